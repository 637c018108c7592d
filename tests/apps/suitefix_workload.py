import suitefix_app  # noqa: F401  (the workload runs what the app runs)
