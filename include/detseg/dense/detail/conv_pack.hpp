#ifndef DETSEG_DENSE_DETAIL_CONV_PACK_HPP
#define DETSEG_DENSE_DETAIL_CONV_PACK_HPP

// The B side of the convolution GEMM, never stored whole (an implicit im2col): row (tap, c) of B
// is channel c of the input shifted by the tap, with zeros where it reads padding. For one k
// block (one tap, up to kc channels) the packer fills the micro-panels (len × NR output
// positions each) of a range of columns, channel by channel so that each input plane is read
// once while it is in cache. Each micro-panel row is a few contiguous runs of the input; a
// micro-panel outside the tap's valid rectangle is reported as all zero, and the GEMM skips it.

#include <detseg/config.hpp>
#include <detseg/dense/detail/conv_geometry.hpp>
#include <detseg/dense/detail/gemm.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

namespace detseg::detail {

/// Columns [j, j+len) of a micro-panel row come from input elements [src, src+len·step).
struct conv_run {
    index_t j, src, len;
};

#if DETSEG_GEMM_AVX512
// Copies 1..32 floats (1..16 doubles) with two possibly overlapping unmasked loads and stores of
// the widest size that fits (masked loads are slow on some CPUs).
DETSEG_TARGET_AVX512 inline void conv_copy_short(float* d, const float* s, index_t n) noexcept {
    if (n >= 16) {
        _mm512_storeu_ps(d, _mm512_loadu_ps(s));
        _mm512_storeu_ps(d + n - 16, _mm512_loadu_ps(s + n - 16));
    } else if (n >= 8) {
        _mm256_storeu_ps(d, _mm256_loadu_ps(s));
        _mm256_storeu_ps(d + n - 8, _mm256_loadu_ps(s + n - 8));
    } else if (n >= 4) {
        _mm_storeu_ps(d, _mm_loadu_ps(s));
        _mm_storeu_ps(d + n - 4, _mm_loadu_ps(s + n - 4));
    } else {
        for (index_t i = 0; i < n; ++i)
            d[i] = s[i];
    }
}

DETSEG_TARGET_AVX512 inline void conv_copy_short(double* d, const double* s, index_t n) noexcept {
    if (n >= 8) {
        _mm512_storeu_pd(d, _mm512_loadu_pd(s));
        _mm512_storeu_pd(d + n - 8, _mm512_loadu_pd(s + n - 8));
    } else if (n >= 4) {
        _mm256_storeu_pd(d, _mm256_loadu_pd(s));
        _mm256_storeu_pd(d + n - 4, _mm256_loadu_pd(s + n - 4));
    } else if (n >= 2) {
        _mm_storeu_pd(d, _mm_loadu_pd(s));
        _mm_storeu_pd(d + n - 2, _mm_loadu_pd(s + n - 2));
    } else if (n == 1) {
        d[0] = s[0];
    }
}

// One micro-panel row (two vectors) of unit-step runs: zero it unless one run covers it, then
// copy the runs.
template <class T>
DETSEG_TARGET_AVX512 inline void conv_pack_row_avx512(const T* xc, const conv_run* runs,
                                                      int count, index_t nr, T* d) noexcept {
    if (count != 1 || runs[0].len != nr) {
        if constexpr (sizeof(T) == 4) {
            _mm512_store_ps(reinterpret_cast<float*>(d), _mm512_setzero_ps());
            _mm512_store_ps(reinterpret_cast<float*>(d) + 16, _mm512_setzero_ps());
        } else {
            _mm512_store_pd(reinterpret_cast<double*>(d), _mm512_setzero_pd());
            _mm512_store_pd(reinterpret_cast<double*>(d) + 8, _mm512_setzero_pd());
        }
    }
    for (int q = 0; q < count; ++q)
        conv_copy_short(d + runs[q].j, xc + runs[q].src, runs[q].len);
}

template <class T>
DETSEG_TARGET_AVX512 void conv_pack_rows_avx512(const T* x, index_t xs0, const gemm_kblock& b,
                                                const conv_run* runs, const int* first,
                                                index_t panels, index_t nr, index_t ps,
                                                T* dst) noexcept {
    for (index_t k = 0; k < b.len; ++k) {
        const T* xc = x + (b.c0 + k) * xs0;
        for (index_t p = 0; p < panels; ++p) {
            const int count = first[p + 1] - first[p];
            if (count > 0)
                conv_pack_row_avx512(xc, runs + first[p], count, nr, dst + p * ps + k * nr);
        }
    }
}
#endif

template <class T>
struct conv_b_packer {
    const T* x = nullptr; // channel 0 of the group, in one image
    index_t xs0 = 0, xs1 = 0, xs2 = 0;
    const conv_geometry* g = nullptr;
    const conv_tap* taps = nullptr; // indexed by the k block's tap
    const conv_order* order = nullptr;
    bool simd = false; // the AVX-512 kernels' panel width (2 vectors): masked rows

    /// Appends the runs of micro-panel [n0, n0+nl) for tap t.
    void panel_runs(const conv_tap& t, index_t n0, index_t nl, std::vector<conv_run>& runs) const {
        const index_t step = g->sw * xs2;
        const index_t end = n0 + nl;
        const std::vector<index_t>& st = order->start;
        auto s = static_cast<std::size_t>(std::upper_bound(st.begin(), st.end(), n0) -
                                          st.begin() - 1);
        const std::size_t first = runs.size();
        for (; s + 1 < st.size() && st[s] < end; ++s) {
            const index_t oy = order->oy[s];
            if (oy < t.oy0 || oy >= t.oy1)
                continue;
            const index_t lo = std::max(n0, st[s]), hi = std::min(end, st[s + 1]);
            const index_t ox_lo = order->ox[s] + (lo - st[s]);
            const index_t xa = std::max(ox_lo, t.ox0);
            const index_t xb = std::min(ox_lo + (hi - lo), t.ox1);
            if (xa >= xb)
                continue;
            const index_t iy = oy * g->sh - g->ph + t.u * g->dh;
            const index_t ix = xa * g->sw - g->pw + t.v * g->dw;
            const conv_run r{lo - n0 + (xa - ox_lo), iy * xs1 + ix * xs2, xb - xa};
            if (runs.size() > first && step == 1 && runs.back().j + runs.back().len == r.j &&
                runs.back().src + runs.back().len == r.src)
                runs.back().len += r.len;
            else
                runs.push_back(r);
        }
    }

    /// Packs micro-panels pj0..pj1-1 (of nr columns; n columns in all) of block b: panel p at
    /// dst + (p - pj0)·ps; live[p - pj0] = whether it has a non-zero element.
    void operator()(const gemm_kblock& b, index_t pj0, index_t pj1, index_t nr, index_t n,
                    index_t ps, T* dst, std::uint8_t* live) const {
        const conv_tap& t = taps[b.tap];
        const index_t panels = pj1 - pj0;
        if (!t.live()) {
            std::fill(live, live + panels, std::uint8_t{0});
            return;
        }
        std::vector<conv_run> runs;
        std::vector<int> first(static_cast<std::size_t>(panels + 1));
        for (index_t p = 0; p < panels; ++p) {
            first[static_cast<std::size_t>(p)] = static_cast<int>(runs.size());
            const index_t n0 = (pj0 + p) * nr;
            panel_runs(t, n0, std::min(nr, n - n0), runs);
            live[p] = runs.size() > static_cast<std::size_t>(first[static_cast<std::size_t>(p)]);
        }
        first[static_cast<std::size_t>(panels)] = static_cast<int>(runs.size());
        const index_t step = g->sw * xs2;
#if DETSEG_GEMM_AVX512
        if (simd && step == 1 && nr == 128 / static_cast<index_t>(sizeof(T))) {
            conv_pack_rows_avx512(x, xs0, b, runs.data(), first.data(), panels, nr, ps, dst);
            return;
        }
#endif
        for (index_t k = 0; k < b.len; ++k) {
            const T* xc = x + (b.c0 + k) * xs0;
            for (index_t p = 0; p < panels; ++p) {
                if (!live[p])
                    continue;
                T* d = dst + p * ps + k * nr;
                std::fill(d, d + nr, T(0));
                for (int q = first[static_cast<std::size_t>(p)];
                     q < first[static_cast<std::size_t>(p + 1)]; ++q) {
                    const conv_run& r = runs[static_cast<std::size_t>(q)];
                    if (step == 1) {
                        std::memcpy(d + r.j, xc + r.src,
                                    static_cast<std::size_t>(r.len) * sizeof(T));
                    } else {
                        for (index_t i = 0; i < r.len; ++i)
                            d[r.j + i] = xc[r.src + i * step];
                    }
                }
            }
        }
    }
};

} // namespace detseg::detail

#endif // DETSEG_DENSE_DETAIL_CONV_PACK_HPP
