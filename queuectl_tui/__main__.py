from .cli import main_tui

main_tui()
