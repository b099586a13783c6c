"""Colorize collections larger than one machine on Ray Data (optional extra: ``pip install "colornet[ray]"``).

Each Ray actor loads the model once (``ColorizeBatch``, a callable class for ``Dataset.map_batches``) and runs the
very pipeline ``colornet colorize`` runs (``colornet.batchrun``: decode, colorize, write atomically with metadata
and provenance) on the batches of (input, output) paths it is given. Outputs are named exactly as the CLI names
them and are written with a temp file and a rename, so a batch that Ray retries after a worker died rewrites the
same files and no reader ever sees half of one; the driver writes the run report from the rows Ray returns, one per
input.

On a cluster (``ray start --head`` on one node, ``ray start --address=HEAD:6379`` on the others) the inputs and
the output folder must be on a filesystem every node mounts at the same path (NFS, Lustre, a FUSE bucket mount):
the rows carry paths, not pixels. Then, from any node::

    python -m colornet.ray /archive/scans -o /archive/colour --address auto --gpus-per-worker 1 --report run.jsonl

GPU nodes run one actor per GPU (``--gpus-per-worker 1``); CPU-only nodes take actors with ``--cpus-per-worker``
cores each. When to use which: one machine, ``colornet colorize`` (least overhead); several GPUs in one or a few
machines you launch yourself, ``torchrun ... -m colornet colorize`` (static shares, no scheduler); a shared cluster,
many nodes, nodes that come and go or may be pre-empted, ``colornet.ray`` (dynamic scheduling, retries).
"""

from .run import ColorizeBatch, colorize_with_ray

__all__ = ["ColorizeBatch", "colorize_with_ray"]
