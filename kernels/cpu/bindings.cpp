// Python bindings of Inkwell's CPU kernels (built by kernels/cpu_ext.py).
#include <torch/extension.h>

#include "ops.h"
#include "decode_stack.h"

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("rms_norm", &inkwell::rms_norm, "out = rms_norm(x) * weight");
  m.def("add_rms_norm", &inkwell::add_rms_norm, "residual += delta; out = rms_norm(residual) * weight");
  m.def("rope_and_store_kv", &inkwell::rope_and_store_kv, "rotate q/k of qkv in place, write k/v to the cache");
  m.def("silu_and_mul", &inkwell::silu_and_mul, "out = silu(gate) * up");
  m.def("paged_row_attention", &inkwell::paged_row_attention, "paged KV-cache attention, one query row at a time");
  m.def("add_lora", &inkwell::add_lora, "y += every entry's LoRA delta (fused shrink + expand)");
  m.def("has_pair_gemm", &inkwell::has_pair_gemm, "whether pair_linear is built (AVX512-BF16 hosts)");
  m.def("pair_linear", &inkwell::pair_linear, "y = x @ W^T for bf16 decode batches, W packed as [N/16, K/2, 32]");
  m.def("set_pair_tile", &inkwell::set_pair_tile, "pair_linear's tile from 8 rows up: 0 = 4 x 6, 1 = 8 x 3");
  m.def("has_block_gemm", &inkwell::has_block_gemm, "whether block_linear is built (AVX-512 hosts)");
  m.def("block_linear", &inkwell::block_linear, "y = x @ W^T for fp32 rows, W packed as [N/16, K, 16]");
  m.def("set_block_tile", &inkwell::set_block_tile, "block_linear's tile: 0 = 14 x 2, 1 = 16 x 1");
  py::class_<inkwell::DecodeStack>(m, "DecodeStack", py::module_local(),  // local: two builds load side by side
                                   "every decoder layer of a decode step in one call")
      .def(py::init<std::vector<at::Tensor>, std::vector<at::Tensor>, std::vector<std::optional<at::Tensor>>,
                    std::vector<std::optional<at::Tensor>>, std::vector<at::Tensor>, at::Tensor, int64_t, int64_t,
                    double, double, int64_t, int64_t>())
      .def("set_lora", &inkwell::DecodeStack::set_lora, "bind every projection's LoRA stacks")
      .def("run", &inkwell::DecodeStack::run, "x += every layer, in place", py::call_guard<py::gil_scoped_release>());
  m.def("argmax_rows", &inkwell::argmax_rows, "out = the first index of each row's maximum (torch.argmax)");
}
