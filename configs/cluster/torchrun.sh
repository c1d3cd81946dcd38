#!/bin/bash
# DDP without SLURM: torchrun starts one process per GPU and sets the ranks, which
# Lightning reads. On one node with 4 GPUs:
#   bash configs/cluster/torchrun.sh 4
# On two nodes, run on each with its NODE_RANK (0 and 1) and the first node's address:
#   NNODES=2 NODE_RANK=0 MASTER_ADDR=node1 bash configs/cluster/torchrun.sh 4
set -euo pipefail
GPUS_PER_NODE="${1:-1}"
NNODES="${NNODES:-1}"
NODE_RANK="${NODE_RANK:-0}"
MASTER_ADDR="${MASTER_ADDR:-127.0.0.1}"
MASTER_PORT="${MASTER_PORT:-29500}"
export HF_HUB_OFFLINE=1

.venv/bin/torchrun \
  --nproc-per-node "${GPUS_PER_NODE}" \
  --nnodes "${NNODES}" \
  --node-rank "${NODE_RANK}" \
  --master-addr "${MASTER_ADDR}" \
  --master-port "${MASTER_PORT}" \
  -m mmlearn.cli fit \
  --config configs/experiment/tuxpaint_fused.yaml \
  --config configs/trainer/ddp.yaml \
  --trainer.num_nodes "${NNODES}" \
  --trainer.devices "${GPUS_PER_NODE}"
