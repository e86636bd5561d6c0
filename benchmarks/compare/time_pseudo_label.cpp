// Times detseg::pseudo_label_loss / cross_entropy_loss (forward + backward in one call) on arrays
// stored as .npy files, for compare_pseudo_label.py. For each case name K it reads
// <dir>/logits.npy (N×C×H×W float32), <dir>/labels.npy (N×H×W int64, ignore 255),
// <dir>/conf.npy (N×H×W float32) and <dir>/K_params.npy (float64 [kind (0 = ce, 1 = pseudo),
// reduction (0 mean, 1 weighted_mean, 2 sum), gamma, tau (< 0: none), boundary weight]), writes
// K_value.f64 and K_grad.f32 (the gradient, row-major), and prints one JSON object with the
// timings in ms (median and quartiles of `reps` calls):
//   one_thread   the call on one OpenMP thread (the figure)
//   two_threads  the same on two threads (when built with OpenMP)
//
//     time_pseudo_label [--reps R] <dir> <case>...

#include <detseg/core/tensor.hpp>
#include <detseg/io/npy.hpp>
#include <detseg/seg/pseudo_label.hpp>

#include "timing.hpp"

#include <cstdint>
#include <string>

namespace {

using detseg::index_t;

using timing::set_threads;

struct inputs {
    detseg::tensor<float, 4> logits;
    detseg::tensor<std::int64_t, 3> labels;
    detseg::tensor<float, 3> conf;
};

const inputs& load_inputs(const std::string& dir) {
    static const inputs in{detseg::load_npy(dir + "/logits.npy").as<float, 4>(),
                           detseg::load_npy(dir + "/labels.npy").as<std::int64_t, 3>(),
                           detseg::load_npy(dir + "/conf.npy").as<float, 3>()};
    return in;
}

std::string run_case(const std::string& dir, const std::string& name, int reps) {
    const inputs& in = load_inputs(dir);
    const auto p = detseg::load_npy(dir + "/" + name + "_params.npy").as<double, 1>();
    const bool pseudo = p(0) != 0.0;
    const auto red = static_cast<detseg::loss_reduction>(static_cast<int>(p(1)));
    detseg::pseudo_label_loss_params pp{.reduction = red, .gamma = p(2),
                                        .boundary_weight = p(4)};
    if (p(3) >= 0.0)
        pp.threshold = p(3);
    const detseg::cross_entropy_params cp{.reduction = red};
    detseg::tensor<float, 4> grad(in.logits.extents());
    double value = 0.0;
    auto call = [&] {
        value = pseudo ? detseg::pseudo_label_loss(in.logits, in.labels, in.conf, grad, pp)
                       : detseg::cross_entropy_loss(in.logits, in.labels, grad, cp);
        timing::escape_barrier(grad.data());
    };
    set_threads(1);
    const auto one = timing::time_ms(reps, call);
    timing::write_raw(dir + "/" + name + "_value.f64", &value, 1);
    timing::write_raw(dir + "/" + name + "_grad.f32", grad.data(),
                      static_cast<std::size_t>(grad.size()));
    std::string out = "{\"name\": \"" + name + "\", \"one_thread\": " + timing::json(one);
#if DETSEG_HAS_OPENMP
    set_threads(2);
    const auto two = timing::time_ms(reps, call);
    out += ", \"two_threads\": " + timing::json(two);
    set_threads(1);
#endif
    return out + "}";
}

} // namespace

int main(int argc, char** argv) {
    return timing::run_cases(argc, argv, "time_pseudo_label [--reps R] <dir> <case>...",
                             run_case);
}
