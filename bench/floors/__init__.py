"""The floors: the least work a stage has to do, done with the plainest tool, on the same files."""
