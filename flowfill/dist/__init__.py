"""Running a clip's plan on a Ray cluster: workers fill windows, one driver stitches them.

``cluster`` connects (or starts a local cluster) and says how to install Ray when it is
missing; ``worker`` is the engine a Ray actor holds (flow backend and edge net loaded once),
reading its own frames from the input's paths; ``driver`` hands the plan's windows to the
workers and gives their fills back in order to ``remove_stream``, which cross-fades and writes
them as in a local run. Nothing here imports Ray until a run asks for it.
"""
