"""Training (rule files ``training.smk``): the §4.2 protocol from dataset file to run folders.

- ``models``: the architectures (FCN, VGG-like CNN, torchvision ResNets / Swin) behind one interface;
- ``optim``: optimizers and LR schedules; ``objectives``: losses, L2, focal loss, ASAM;
- ``recipes``: a cell's resolved training settings (optimizer, interventions);
- ``loop``: one model trained until 100 % training accuracy (or cap / stall / divergence);
- ``stacked``: every LR x seed of a group trained as one stacked model;
- ``runs``: a group's or cell's run folders (``run.json``, ``model.pt``, ``history.csv``, snapshots).
"""
