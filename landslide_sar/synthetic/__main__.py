"""``python -m landslide_sar.synthetic config.yaml AREA OUT_DIR``."""

from .write import main

main()
