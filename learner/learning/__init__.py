"""Learning: the stages in cycle order, the gate, the cycle, its schedule and the job that runs it."""
