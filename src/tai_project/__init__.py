"""tai-project: trustworthy AI operational with Kedro."""
