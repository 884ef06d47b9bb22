def test_enqueue_run_complete(cli):
    job_id = cli("enqueue", '{"command": "echo hello"}').out.strip()
    assert cli("worker", "start", "--count", "1", "--burst").code == 0
    job = cli("show", job_id, "--json").json()
    assert job["state"] == "completed"
    assert job["runs"][0]["stdout"] == "hello\n"
