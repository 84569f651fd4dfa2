"""The training core shared by the density and detection nets.

- `preprocess`: dB conversion, channel statistics of the training chips, standardisation.
- `ensemble`: K members of one architecture as one module (grouped convolutions), packing and
  unpacking of per-member weights, dropping members that stopped early.
- `fit`: the seeded, early-stopped fit loop of such an ensemble, its checkpoint and history.
- `runtime`: device choice, determinism, threads and the progress bar written into the log.

What differs between the nets (architecture, loss, data) stays in `density/` and `detection/`.
"""

#: The boolean column of the metrics CSVs that flags the rows scoring the members' mean
#: probabilities (the ensemble). Their `seed` is empty: `seed` holds the member's training seed,
#: an integer, and is empty (NA) on the ensemble's rows and on rows of no net (baseline, oracle).
ENSEMBLE = "ensemble"
#: pd.read_csv(path, dtype=METRICS_DTYPES) reads a metrics CSV back with `seed` a nullable
#: integer (pandas "Int64"; empty -> NA) and `ensemble` a bool (columns it lacks are ignored).
METRICS_DTYPES = {"seed": "Int64", ENSEMBLE: "bool"}
