"""Whether a Hugging Face hub model exists, asked before any weights load: the local cache first, then
one quick request to the hub (none when the hub is switched off), each failure one clear error."""

from __future__ import annotations

import os

from alignlab.core._errors import AlignlabError

__all__ = ["HUB_TIMEOUT", "check_hub_model"]

HUB_TIMEOUT = 5.0  # seconds for the one request that asks the hub whether a model exists


def _hub_offline() -> bool:
    from huggingface_hub import constants

    # The environment is read now: huggingface_hub reads it once, at import, which may predate a change.
    flags = (os.environ.get("HF_HUB_OFFLINE"), os.environ.get("TRANSFORMERS_OFFLINE"))
    return constants.HF_HUB_OFFLINE or any((f or "").strip().upper() in ("1", "ON", "YES", "TRUE") for f in flags)


def check_hub_model(repo_id: str) -> None:
    """A hub model must be in the local cache, or be confirmed by one quick request to the hub."""
    from huggingface_hub import HfApi, constants, try_to_load_from_cache
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError

    cache = os.environ.get("HF_HUB_CACHE") or constants.HF_HUB_CACHE
    if isinstance(try_to_load_from_cache(repo_id, "config.json", cache_dir=cache), str):
        return
    where = f"'hf:{repo_id}' is not in the local Hugging Face cache ({cache})"
    fix = (f"Download it where there is a network (`hf download {repo_id}`), set HF_HUB_CACHE to a cache that "
           "holds it, or give a local model directory.")
    if _hub_offline():
        raise AlignlabError(f"{where} and the hub is switched off (offline mode: HF_HUB_OFFLINE is set). {fix}")
    endpoint = os.environ.get("HF_ENDPOINT") or constants.ENDPOINT
    try:
        HfApi(endpoint=endpoint).model_info(repo_id, timeout=HUB_TIMEOUT)
    except GatedRepoError:
        return  # it exists; access is checked when it downloads
    except RepositoryNotFoundError:
        raise AlignlabError(f"There is no model 'hf:{repo_id}' on the Hugging Face hub ({endpoint}), or it is "
                            "private (log in with `hf auth login`). Check the id, e.g. hf:HuggingFaceTB/SmolLM2-135M-Instruct.") from None
    except HfHubHTTPError as exc:
        raise AlignlabError(f"{where}, and the hub ({endpoint}) answered with an error: {exc}. {fix}") from None
    except Exception as exc:  # httpx connection errors and timeouts: the hub cannot be reached
        raise AlignlabError(f"{where}, and the hub ({endpoint}) could not be reached ({type(exc).__name__}: "
                            f"{exc}). {fix} Set HF_HUB_OFFLINE=1 to skip the hub.") from None
