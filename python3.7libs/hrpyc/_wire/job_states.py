"""Both sides: the states of a job (hrpyc.submit), as the server names them on the wire and the client
reads them (`hrpyc.Job.state`): one definition, so the two ends cannot drift apart."""

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
FINISHED = (DONE, FAILED, CANCELLED)  # a job in one of these has ended, and stays so
STATES = (QUEUED, RUNNING) + FINISHED
