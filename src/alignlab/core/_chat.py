"""Turning a user prompt (and a response) into model text, with or without a chat template."""

from __future__ import annotations

from typing import Any

__all__ = ["add_special_tokens", "format_prompt", "format_response"]

# Base models without a chat template (e.g. Gemma 3 270M base) get this plain format.
PLAIN_TEMPLATE = "User: {prompt}\nAssistant:"


def format_prompt(tokenizer: Any, prompt: str, system: str | None = None) -> str:
    """The text a model sees before it answers ``prompt`` (the chat template's generation prompt)."""
    if getattr(tokenizer, "chat_template", None):
        messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": prompt}]
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    prefix = f"{system}\n\n" if system else ""
    return prefix + PLAIN_TEMPLATE.format(prompt=prompt)


def format_response(tokenizer: Any, response: str, *, complete: bool = True) -> str:
    """The text the model should produce for ``response``; a complete answer ends with the end-of-turn token.

    A response cut at a token budget is not complete: it gets no end token, so the model is not taught to
    stop mid-sentence.
    """
    if getattr(tokenizer, "chat_template", None):
        text = response
    else:
        text = " " + response
    return text + (tokenizer.eos_token if complete and tokenizer.eos_token else "")


def add_special_tokens(tokenizer: Any) -> bool:
    """Whether tokenising a formatted prompt should add the tokenizer's special tokens: a chat template
    writes them itself; the plain format needs the tokenizer's BOS (Gemma degrades badly without it)."""
    return not getattr(tokenizer, "chat_template", None)
