"""The course service for JupyterHub: answers recorded under the hub's identity, read back by instructors.

`python -m quiz.service` runs it (the hub starts it as a managed service, or it runs beside the hub);
`quiz.service.hub_config.configure(c)` is the hub's side. The kernel's client is quiz.answer_sender.
"""
