"""Built-in forecasters in the registry (kind ``forecaster``); ``alignlab.forecast._registry`` imports this module.

Add your own without editing alignlab::

    from alignlab.core import register

    @register("forecaster", "my-model")
    def my_model(**kwargs):
        return MyForecaster(**kwargs)      # fit(df) / predict(h, df=None, level=None), attribute name
"""

from __future__ import annotations

from typing import Any

from alignlab.core import register

__all__: list[str] = []


@register("forecaster", "linear")
def linear(**kwargs: Any):
    """Ridge regression of every horizon, trained on chained (TD) targets by default."""
    from alignlab.forecast._chained import ChainedForecaster

    return ChainedForecaster("linear", **kwargs)


@register("forecaster", "gbm")
def gbm(**kwargs: Any):
    """Histogram gradient boosting (scikit-learn) of every horizon, chained targets by default."""
    from alignlab.forecast._chained import ChainedForecaster

    return ChainedForecaster("gbm", **kwargs)


@register("forecaster", "mlp")
def mlp(**kwargs: Any):
    """A small torch MLP (two layers of 32) of every horizon, chained targets by default."""
    from alignlab.forecast._chained import ChainedForecaster

    return ChainedForecaster("mlp", **kwargs)


@register("forecaster", "statsforecast")
def statsforecast(model: Any = "Naive", **kwargs: Any):
    """Any statsforecast model (``model="AutoETS"``, or an instance) as a step forecaster."""
    from alignlab.forecast._statsforecast import StatsForecastModel

    return StatsForecastModel(model, **kwargs)


@register("forecaster", "lm")
def lm(model: Any = "bundled:smollm2-135m", **kwargs: Any):
    """A language model from alignlab's model registry, prompted with the history."""
    from alignlab.forecast._lm import LMForecaster

    return LMForecaster(model, **kwargs)
