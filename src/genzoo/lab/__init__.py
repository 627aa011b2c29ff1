"""genzoo lab: a playground in the browser where genzoo's own models train live on 2-D data
(`genzoo lab`). `session` holds a family training a step at a time and what the page draws of it;
`views` computes the pictures; `server` serves the page and its stream on the loopback address,
with a token. This module imports no torch: the command line reads the lab's choices from it."""

FAMILIES = ("gan", "vae", "aae", "ddpm", "kde", "infogan")  # the families the lab plays
DATASETS = ("ring8", "grid25", "moons", "swissroll")  # its data (and the points a user draws)
