"""Multi-LoRA serving: adapter folders, the slot pool, LoRA-wrapped linears and the step metadata.

``LoRAManager`` (``engine.lora.manager``) is the engine's only entry point; the other modules are its parts:
``loader`` (PEFT folder -> validated fused weights), ``pool`` (device slots over a host LRU), ``linear``
(the module swap that adds each token's delta), ``request`` (``LoRARequest``, ``LoRABlend``, torch-free).
"""
