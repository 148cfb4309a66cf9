"""The bundled classifiers' training loop (the training commands share it; nothing at runtime imports it)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from models.data.batches import accuracy


def fit_classifier(
    model: nn.Module,
    train: tuple[torch.Tensor, torch.Tensor],
    test: tuple[torch.Tensor, torch.Tensor],
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
) -> float:
    """Train a bundled classifier: AdamW with a one-cycle schedule, cross-entropy, a tqdm bar per epoch
    and the held-out accuracy printed after each. Returns the held-out accuracy of the weights rounded
    to fp16, which is what a bundled checkpoint stores (the model keeps those rounded weights)."""
    from tqdm import tqdm

    (x_train, y_train), (x_test, y_test) = train, test
    device = next(model.parameters()).device
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=5e-4)
    per_epoch = max(1, len(x_train) // batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=epochs * per_epoch)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(x_train), generator=gen)
        bar = tqdm(range(per_epoch), desc=f"epoch {epoch + 1}/{epochs}", leave=False)
        for i in bar:
            idx = order[i * batch_size : (i + 1) * batch_size]
            xb = x_train[idx] if augment is None else augment(x_train[idx], gen)
            loss = loss_fn(model(xb.to(device)), y_train[idx].to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            bar.set_postfix(loss=f"{loss.item():.3f}")
        print(f"epoch {epoch + 1}: loss {loss.item():.3f}, held-out accuracy {accuracy(model, x_test, y_test):.4f}")
    model.load_state_dict({k: v.half().float() if v.is_floating_point() else v for k, v in model.state_dict().items()})
    return accuracy(model, x_test, y_test)
