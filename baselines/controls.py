"""Control models: baselines whose behaviour is known, to prove the diagnostics work.

- ``copy`` returns training examples: it must score the best FID of all and be flagged by the
  memorization check (every sample's nearest training example is at distance 0).
- ``collapse`` returns one training example over and over: the mode diagnostics must flag it.
- ``gaussian`` samples a full-covariance Gaussian fitted to the flattened training data: it can
  neither copy nor collapse.
- ``copy-cond``, class-conditional, returns for each label a training example of that class: the
  floor of the conditional metrics.

They are not trained (``trainable = False``): the runner calls ``fit`` on every run and writes no
checkpoint. All four handle images and points, and report ``nfe`` 0: they evaluate no network.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from genbench.api import DataSpec, GenerativeModel, TrainContext
from genbench.errors import GenbenchError
from genbench.registry import register_model


class _Control(GenerativeModel):
    trainable: ClassVar[bool] = False

    def _require_fit(self, attr: str) -> Any:
        value = getattr(self, attr, None)
        if value is None:
            name = self.registered_name or type(self).__name__
            raise GenbenchError(f"control {name!r} samples before fit(); call fit(train, ctx) first")
        return value

    @property
    def nfe(self) -> int:
        """0: a control indexes or draws its samples and evaluates no network, where the base class's
        default 1 would cost it as much as a GAN on the board's ``nfe`` column."""
        return 0


@register_model("copy")
class Copy(_Control):
    """Returns the training set in a seeded random order.

    Samples are read from a stream of random permutations of the train set (a new permutation each
    time one is exhausted), seeded by the sampling ``generator``'s seed. The stream continues across
    ``sample`` calls with the same generator, so batched calls with n summing to the train size
    return exactly the train set, whatever the batch sizes; another generator starts a stream of its
    own. (The stream was once seeded by ``fit`` and shared by every generator: the harness's warm-up
    batch, drawn with its own generator, took the first 500 examples, so the kept samples repeated
    500 and missed 500, and copy's FID was 1.2 instead of 0.)
    """

    def __init__(self, spec: DataSpec, config: Any = None):
        super().__init__(spec, config)
        self.data: torch.Tensor | None = None
        self._generator: torch.Generator | None = None  # whose stream _rng, _perm and _pos are

    def fit(self, train: torch.Tensor, ctx: TrainContext) -> dict[str, Any]:
        self.data = train.detach().to("cpu", torch.float32).clone()
        self._generator = None
        return {}

    def sample(self, n: int, *, generator: torch.Generator) -> torch.Tensor:
        data = self._require_fit("data")
        if generator is not self._generator:
            self._generator = generator
            self._rng = torch.Generator().manual_seed(generator.initial_seed())
            self._perm, self._pos = torch.empty(0, dtype=torch.long), 0
        parts = []
        while n > 0:
            if self._pos == len(self._perm):
                self._perm, self._pos = torch.randperm(len(data), generator=self._rng), 0
            take = self._perm[self._pos : self._pos + n]
            parts.append(take)
            self._pos += len(take)
            n -= len(take)
        idx = torch.cat(parts) if parts else torch.empty(0, dtype=torch.long)
        return data[idx].clone()

    def state_dict(self) -> dict[str, Any]:
        return {"data": self.data}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.data, self._generator = state["data"], None


@register_model("copy-cond")
class CopyCond(Copy):
    """The class-conditional ``copy``: returns, for each label, a training example of that class.

    ``fit`` keeps the train split and its labels (``ctx.labels``). Each class's examples are read from
    a stream of random permutations of that class's rows, seeded by the sampling ``generator``'s seed,
    as ``copy`` reads the whole split: with the harness's labels (stratified to the train split's
    class proportions) and ``--samples`` the train split's size, the samples are exactly the train
    split, each example drawn for its own class. It scores what a perfect memoriser of each class
    scores: the floor of the conditional metrics (intra-FID, class accuracy) and of FID.
    """

    conditional: ClassVar[bool] = True

    def __init__(self, spec: DataSpec, config: Any = None):
        super().__init__(spec, config)
        self.labels: torch.Tensor | None = None

    def fit(self, train: torch.Tensor, ctx: TrainContext) -> dict[str, Any]:
        if ctx.labels is None:  # the harness hands a conditional model its labels; a caller by hand may not
            raise GenbenchError(
                "control 'copy-cond' was fitted without labels; pass TrainContext(labels=...)"
            )
        super().fit(train, ctx)
        self.labels = ctx.labels.detach().to("cpu", torch.int64).clone()
        return {}

    # ignore[override]: a conditional model of an unconditional one's class, its sample needs the
    # labels the harness hands every conditional model (GenerativeModel.sample says so)
    def sample(self, n: int, *, generator: torch.Generator, labels: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        data, train_labels = self._require_fit("data"), self._require_fit("labels")
        if generator is not self._generator:
            self._generator = generator
            self._rng = torch.Generator().manual_seed(generator.initial_seed())
            self._streams: dict[int, tuple[torch.Tensor, int]] = {}  # class -> (permuted rows, position)
        wanted = labels.detach().cpu().long()
        idx = torch.empty(len(wanted), dtype=torch.long)
        for k in wanted.unique().tolist():  # in class order: the same draws for the same labels
            at = (wanted == k).nonzero().squeeze(1)
            idx[at] = self._take(int(k), len(at), train_labels)
        return data[idx].clone()

    def _take(self, k: int, m: int, train_labels: torch.Tensor) -> torch.Tensor:
        """The next ``m`` rows of class ``k``'s stream of permutations."""
        rows = (train_labels == k).nonzero().squeeze(1)
        if not len(rows):
            raise GenbenchError(f"control 'copy-cond' was asked for class {k}, which no training example has")
        perm, pos = self._streams.get(k, (torch.empty(0, dtype=torch.long), 0))
        parts = []
        while m > 0:
            if pos == len(perm):
                perm, pos = rows[torch.randperm(len(rows), generator=self._rng)], 0
            take = perm[pos : pos + m]
            parts.append(take)
            pos += len(take)
            m -= len(take)
        self._streams[k] = (perm, pos)
        return torch.cat(parts)

    def state_dict(self) -> dict[str, Any]:
        return {"data": self.data, "labels": self.labels}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.data, self.labels, self._generator = state["data"], state["labels"], None


@register_model("collapse")
class Collapse(_Control):
    """Returns one training example, chosen uniformly at random by the ``fit`` seed, ``n`` times."""

    def __init__(self, spec: DataSpec, config: Any = None):
        super().__init__(spec, config)
        self.example: torch.Tensor | None = None
        self.index = -1

    def fit(self, train: torch.Tensor, ctx: TrainContext) -> dict[str, Any]:
        rng = torch.Generator().manual_seed(int(ctx.seed))
        self.index = int(torch.randint(0, train.shape[0], (1,), generator=rng))
        self.example = train[self.index].detach().to("cpu", torch.float32).clone()
        return {"index": self.index}

    def sample(self, n: int, *, generator: torch.Generator) -> torch.Tensor:
        example = self._require_fit("example")
        return example.unsqueeze(0).repeat(n, *([1] * example.dim()))

    def state_dict(self) -> dict[str, Any]:
        return {"example": self.example, "index": self.index}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.example, self.index = state["example"], int(state["index"])


@register_model("gaussian")
class Gaussian(_Control):
    """N(mean, covariance) of the flattened training data; samples clamped to the data range.

    The covariance is the unbiased sample covariance in float64. When it is singular (e.g. pixels
    that are constant over the train set), a ridge ``r * I`` is added with ``r`` starting at 1e-6
    of the mean variance and growing tenfold until the Cholesky factorisation succeeds.
    """

    def __init__(self, spec: DataSpec, config: Any = None):
        super().__init__(spec, config)
        self.mean: torch.Tensor | None = None
        self.chol: torch.Tensor | None = None
        self.ridge = 0.0

    def fit(self, train: torch.Tensor, ctx: TrainContext) -> dict[str, Any]:
        n = train.shape[0]
        x = train.detach().reshape(n, -1).cpu()
        mean = x.double().mean(0)
        cov = torch.zeros(x.shape[1], x.shape[1], dtype=torch.float64)
        for chunk in x.split(4096):  # bounded memory on large datasets (cifar10: 50000 x 3072)
            c = chunk.double() - mean
            cov += c.T @ c
        cov /= max(n - 1, 1)
        if not torch.isfinite(cov).all():  # NaN/inf data: no ridge makes it factorable (the loop never ended)
            raise GenbenchError("gaussian control: the training data holds NaN or inf values; check the data")
        scale = float(cov.diagonal().mean()) or 1.0
        ridge = 0.0
        eye = torch.eye(cov.shape[0], dtype=torch.float64)
        while True:
            chol, info = torch.linalg.cholesky_ex(cov + ridge * eye)
            if int(info) == 0:
                break
            if ridge > scale:
                raise GenbenchError(
                    "gaussian control: the training data's covariance is not finite; check the data"
                )
            ridge = scale * 1e-6 if ridge == 0 else ridge * 10
        self.mean, self.chol, self.ridge = mean, chol, ridge
        return {"ridge": ridge}

    def sample(self, n: int, *, generator: torch.Generator) -> torch.Tensor:
        mean, chol = self._require_fit("mean"), self._require_fit("chol")
        z = torch.randn(n, mean.shape[0], generator=generator, device=generator.device, dtype=torch.float64)
        x = (mean + z.cpu() @ chol.T).float().reshape(n, *self.spec.shape)
        if self.spec.value_range is not None:
            x = x.clamp(*self.spec.value_range)
        return x

    def state_dict(self) -> dict[str, Any]:
        return {"mean": self.mean, "chol": self.chol, "ridge": self.ridge}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.mean, self.chol, self.ridge = state["mean"], state["chol"], float(state["ridge"])
