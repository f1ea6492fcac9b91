"""The example email every measurement sends: one definition for the lessons, the bench, Locust and the tests."""

DEFAULT_EMAIL = {"to": "learner@example.com", "subject": "Timing test", "body": "Sent while measuring."}
