// The LSTM recurrence of netdict.md section 5 over a packed batch, on the CPU (netc/trainer/lstm.py).
//
// Packed: frames time-major without padding; step t holds the sizes[t] sequences longer than t,
// longest first, so the active sequences of every step are a prefix of the state rows. Gates are
// in RETURNN's order j, i, f, o. The caller passes `gates` holding x W + b (one GEMM over all frames);
// the forward pass adds the recurrent products into it and leaves the activated gates there.
// A backward layer walks the steps from the last to the first: a sequence starts at its own last
// frame because its rows stay untouched (at the initial state) until it becomes active.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/stack.h>
#include <torch/library.h>

#include <cmath>
#include <algorithm>
#include <cstring>
#include <tuple>
#include <vector>

namespace {

using at::Tensor;

std::vector<int64_t> offsets_of(c10::IntArrayRef sizes) {
  std::vector<int64_t> offsets(sizes.size());
  int64_t offset = 0;
  for (size_t t = 0; t < sizes.size(); ++t) {
    offsets[t] = offset;
    offset += sizes[t];
  }
  return offsets;
}

// Below this many multiply-adds per step, plain loops beat the fixed cost of an ATen call (a few us),
// which would dominate small layers (RETURNN's 12AX demo: 10 cells, 10 sequences).
constexpr int64_t kSmallStep = 1 << 14;

template <typename T>
inline T sigmoid(T x) {
  return T(1) / (T(1) + std::exp(-x));
}

// x @ weight^T with a weight prepacked by mkldnn::_reorder_linear_weight: oneDNN's GEMM, about 15% faster
// than MKL's for these few-row products on the CPUs measured (AMD EPYC: 327 vs 384 us for 16x500x2000).
Tensor onednn_linear(const Tensor& x, const Tensor& packed_weight) {
  static const c10::OperatorHandle op =
      c10::Dispatcher::singleton().findSchemaOrThrow("mkldnn::_linear_pointwise", "");
  torch::jit::Stack stack;
  stack.emplace_back(x);
  stack.emplace_back(packed_weight);
  stack.emplace_back(c10::IValue());  // no bias
  stack.emplace_back(c10::IValue(std::string("none")));  // no post-op
  stack.emplace_back(c10::IValue(c10::List<std::optional<c10::Scalar>>()));
  stack.emplace_back(c10::IValue());
  op.callBoxed(&stack);
  return stack.back().toTensor();
}

// One per-step product: out (k x cols) = a (k x inner) @ w (inner x cols, contiguous), added to out when
// `accumulate`. `onednn_weight` is w^T prepacked for oneDNN. The forward pass adds h @ W_re into the gates
// (which hold x W + b); the backward pass sets dh = grad_gates @ W_re^T.
template <typename T>
void step_product(Tensor& out, const Tensor& a, const Tensor& w, const std::optional<Tensor>& onednn_weight,
                  bool accumulate) {
  const int64_t k = a.size(0), inner = a.size(1), cols = w.size(1);
  if (k * inner * cols >= kSmallStep) {
    if (onednn_weight.has_value()) {
      const Tensor product = onednn_linear(a, *onednn_weight);
      accumulate ? out.add_(product) : out.copy_(product);
    } else {
      accumulate ? out.addmm_(a, w) : at::mm_out(out, a, w);
    }
    return;
  }
  T* o = out.data_ptr<T>();
  const T* x = a.data_ptr<T>();
  const T* weight = w.data_ptr<T>();
  for (int64_t r = 0; r < k; ++r) {
    T* row = o + r * cols;
    if (!accumulate) std::fill(row, row + cols, T(0));
    for (int64_t i = 0; i < inner; ++i) {
      const T value = x[r * inner + i];
      for (int64_t col = 0; col < cols; ++col) row[col] += value * weight[i * cols + col];
    }
  }
}

// Gates j, i, f, o of k rows: tanh on j, sigmoid on i, f, o, in place.
template <typename T>
void activate_gates(Tensor& gates, int64_t k, int64_t n) {
  if (k * n * 4 * n >= kSmallStep) {
    gates.narrow(1, 0, n).tanh_();
    gates.narrow(1, n, 3 * n).sigmoid_();
    return;
  }
  T* g = gates.data_ptr<T>();
  for (int64_t r = 0; r < k; ++r) {
    T* a = g + r * 4 * n;
    for (int64_t u = 0; u < n; ++u) a[u] = std::tanh(a[u]);
    for (int64_t u = n; u < 4 * n; ++u) a[u] = sigmoid(a[u]);
  }
}

template <typename T>
void tanh_into(Tensor& out, const Tensor& in, int64_t k, int64_t n) {
  if (k * n * 4 * n >= kSmallStep) {
    at::tanh_out(out, in);
    return;
  }
  T* o = out.data_ptr<T>();
  const T* x = in.data_ptr<T>();
  for (int64_t e = 0; e < k * n; ++e) o[e] = std::tanh(x[e]);
}

// Returns y, final h, final c, and for the backward pass: c_prev, tanh(c), h_prev (packed). `gates` is
// overwritten with the activated gates, also needed by the backward pass.
std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor, Tensor> lstm_forward(
    Tensor gates, const Tensor& W_re_in, const std::optional<Tensor>& onednn_weight, const Tensor& h0,
    const Tensor& c0, c10::IntArrayRef sizes, bool backward) {
  TORCH_CHECK(gates.is_contiguous(), "netc::lstm_forward: gates must be contiguous");
  const Tensor W_re = W_re_in.contiguous();
  const int64_t frames = gates.size(0), n = W_re.size(0), steps = static_cast<int64_t>(sizes.size());
  Tensor y = at::empty({frames, n}, gates.options());
  Tensor tanh_c = at::empty({frames, n}, gates.options());
  Tensor c_prev = at::empty({frames, n}, gates.options());
  Tensor h_prev = at::empty({frames, n}, gates.options());
  Tensor h = h0.contiguous().clone();
  Tensor c = c0.contiguous().clone();
  const std::vector<int64_t> offsets = offsets_of(sizes);
  AT_DISPATCH_FLOATING_TYPES(gates.scalar_type(), "netc_lstm_forward", [&] {
    scalar_t* h_ptr = h.data_ptr<scalar_t>();
    scalar_t* c_ptr = c.data_ptr<scalar_t>();
    for (int64_t s = 0; s < steps; ++s) {
      const int64_t t = backward ? steps - 1 - s : s, k = sizes[t], first = offsets[t];
      if (k == 0) continue;
      Tensor hp = h_prev.narrow(0, first, k), g = gates.narrow(0, first, k), tc = tanh_c.narrow(0, first, k);
      std::memcpy(hp.data_ptr<scalar_t>(), h_ptr, k * n * sizeof(scalar_t));
      std::memcpy(c_prev.data_ptr<scalar_t>() + first * n, c_ptr, k * n * sizeof(scalar_t));
      step_product<scalar_t>(g, hp, W_re, onednn_weight, /*accumulate=*/true);
      activate_gates<scalar_t>(g, k, n);
      const scalar_t* g_ptr = g.data_ptr<scalar_t>();
      for (int64_t r = 0; r < k; ++r) {
        const scalar_t* a = g_ptr + r * 4 * n;
        scalar_t* cell = c_ptr + r * n;
        for (int64_t u = 0; u < n; ++u) cell[u] = a[2 * n + u] * cell[u] + a[n + u] * a[u];
      }
      tanh_into<scalar_t>(tc, c.narrow(0, 0, k), k, n);
      const scalar_t* tc_ptr = tc.data_ptr<scalar_t>();
      scalar_t* y_ptr = y.data_ptr<scalar_t>() + first * n;
      for (int64_t r = 0; r < k; ++r) {
        const scalar_t* o = g_ptr + r * 4 * n + 3 * n;
        for (int64_t u = 0; u < n; ++u) y_ptr[r * n + u] = o[u] * tc_ptr[r * n + u];
      }
      std::memcpy(h_ptr, y_ptr, k * n * sizeof(scalar_t));
    }
  });
  return {y, h, c, c_prev, tanh_c, h_prev};
}

// Gradients of the gate pre-activations, W_re, h0 and c0 from those of y, the final h and the final c.
std::tuple<Tensor, Tensor, Tensor, Tensor> lstm_backward(
    const Tensor& grad_y_in, const Tensor& grad_h, const Tensor& grad_c, const Tensor& W_re_in,
    const std::optional<Tensor>& onednn_weight, const Tensor& gates, const Tensor& c_prev, const Tensor& tanh_c,
    const Tensor& h_prev, c10::IntArrayRef sizes, bool backward) {
  const Tensor grad_y = grad_y_in.contiguous(), W_re_t = W_re_in.t().contiguous();
  const int64_t frames = gates.size(0), n = W_re_in.size(0), steps = static_cast<int64_t>(sizes.size());
  Tensor grad_gates = at::empty({frames, 4 * n}, gates.options());
  Tensor dh = grad_h.contiguous().clone();
  Tensor dc = grad_c.contiguous().clone();
  const std::vector<int64_t> offsets = offsets_of(sizes);
  AT_DISPATCH_FLOATING_TYPES(gates.scalar_type(), "netc_lstm_backward", [&] {
    scalar_t* dh_ptr = dh.data_ptr<scalar_t>();
    scalar_t* dc_ptr = dc.data_ptr<scalar_t>();
    for (int64_t s = steps - 1; s >= 0; --s) {
      const int64_t t = backward ? steps - 1 - s : s, k = sizes[t], first = offsets[t];
      if (k == 0) continue;
      const scalar_t* g_ptr = gates.data_ptr<scalar_t>() + first * 4 * n;
      const scalar_t* gy_ptr = grad_y.data_ptr<scalar_t>() + first * n;
      const scalar_t* cp_ptr = c_prev.data_ptr<scalar_t>() + first * n;
      const scalar_t* tc_ptr = tanh_c.data_ptr<scalar_t>() + first * n;
      scalar_t* dg_ptr = grad_gates.data_ptr<scalar_t>() + first * 4 * n;
      for (int64_t r = 0; r < k; ++r) {
        const scalar_t* a = g_ptr + r * 4 * n;
        scalar_t* da = dg_ptr + r * 4 * n;
        for (int64_t u = 0; u < n; ++u) {
          const scalar_t j = a[u], i = a[n + u], f = a[2 * n + u], o = a[3 * n + u], tc = tc_ptr[r * n + u];
          const scalar_t d_out = dh_ptr[r * n + u] + gy_ptr[r * n + u];
          const scalar_t d_cell = dc_ptr[r * n + u] + d_out * o * (scalar_t(1) - tc * tc);
          da[u] = d_cell * i * (scalar_t(1) - j * j);
          da[n + u] = d_cell * j * i * (scalar_t(1) - i);
          da[2 * n + u] = d_cell * cp_ptr[r * n + u] * f * (scalar_t(1) - f);
          da[3 * n + u] = d_out * tc * o * (scalar_t(1) - o);
          dc_ptr[r * n + u] = d_cell * f;
        }
      }
      Tensor dh_rows = dh.narrow(0, 0, k);
      step_product<scalar_t>(dh_rows, grad_gates.narrow(0, first, k), W_re_t, onednn_weight, /*accumulate=*/false);
    }
  });
  return {grad_gates, at::mm(h_prev.t(), grad_gates), dh, dc};
}

}  // namespace

TORCH_LIBRARY(netc, m) {
  m.def("lstm_forward", &lstm_forward);
  m.def("lstm_backward", &lstm_backward);
}
