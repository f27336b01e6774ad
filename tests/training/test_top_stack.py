"""The frozen-prefix training step computes exactly PEFT's loss and gradients (tiny random Llama)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from training.chat_format import IGNORE
from training.top_stack import pad_states, prefix_states, top_loss, top_stack


def _peft_model(model_dir: Path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    lora = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "gate_proj", "down_proj"],
                      layers_to_transform=[1], init_lora_weights=False)
    return get_peft_model(base, lora).eval()


def _examples() -> list[tuple[list[int], list[int]]]:
    """Three sequences of different lengths; loss on the tail of each (like a chat reply)."""
    rng = torch.Generator().manual_seed(1)
    examples = []
    for length, prompt in ((11, 5), (7, 3), (16, 9)):
        ids = torch.randint(3, 200, (length,), generator=rng).tolist()
        examples.append((ids, [IGNORE] * prompt + ids[prompt:]))
    return examples


def _reference(model, examples) -> torch.Tensor:
    width = max(len(ids) for ids, _ in examples)
    ids = torch.zeros(len(examples), width, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE)
    mask = torch.zeros(len(examples), width, dtype=torch.long)
    for row, (x, y) in enumerate(examples):
        ids[row, : len(x)], labels[row, : len(y)], mask[row, : len(x)] = torch.tensor(x), torch.tensor(y), 1
    return model(input_ids=ids, attention_mask=mask, labels=labels).loss


def _lora_grads(model) -> dict[str, torch.Tensor]:
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}
    model.zero_grad(set_to_none=True)
    return grads


def test_loss_and_gradients_equal_the_full_model(tiny_llama_dir: Path) -> None:
    model, examples = _peft_model(tiny_llama_dir), _examples()
    expected = _reference(model, examples)
    expected.backward()
    expected_grads = _lora_grads(model)

    stack = top_stack(model, upper_layers=1)
    assert len(stack.lower) == 1 and len(stack.upper) == 1
    states = prefix_states(stack, [ids for ids, _ in examples], batch_size=2)
    assert [s.shape[0] for s in states] == [11, 7, 16] and not any(s.requires_grad for s in states)
    hidden, labels = pad_states(states, [y for _, y in examples])
    loss = top_loss(stack, hidden, labels)
    loss.backward()
    grads = _lora_grads(model)

    torch.testing.assert_close(loss, expected, atol=1e-5, rtol=1e-5)
    assert grads.keys() == expected_grads.keys() and len(grads) == 8
    for name, grad in grads.items():
        torch.testing.assert_close(grad, expected_grads[name], atol=1e-5, rtol=1e-4, msg=name)


def test_padding_does_not_leak_into_real_positions(tiny_llama_dir: Path) -> None:
    model, ((eleven, _), (seven, _), _) = _peft_model(tiny_llama_dir), _examples()
    stack = top_stack(model, upper_layers=1)
    alone = prefix_states(stack, [seven])[0]  # [7, H]
    batched = prefix_states(stack, [seven, eleven, list(range(3, 40))], batch_size=3)[0]
    torch.testing.assert_close(batched, alone, atol=1e-5, rtol=1e-5)
    with pytest.raises(AssertionError):  # the check can fail: other tokens give other states
        torch.testing.assert_close(prefix_states(stack, [eleven])[0][:7], alone)
