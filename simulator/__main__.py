from simulator.cli import app

app(prog_name="python -m simulator")
