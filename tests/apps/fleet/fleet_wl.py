import fleet_tasks
fleet_tasks.task(5)
