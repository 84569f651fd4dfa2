"""The training core shared by the density and detection nets.

- `preprocess`: dB conversion, channel statistics of the training chips, standardisation.
- `ensemble`: K members of one architecture as one module (grouped convolutions), packing and
  unpacking of per-member weights, dropping members that stopped early.
- `fit`: the seeded, early-stopped fit loop of such an ensemble, its checkpoint and history.
- `runtime`: device choice, determinism, threads and the progress bar written into the log.

What differs between the nets (architecture, loss, data) stays in `density/` and `detection/`.
"""

ENSEMBLE = "ensemble"  # the seed value of the rows that score the members' mean probabilities
