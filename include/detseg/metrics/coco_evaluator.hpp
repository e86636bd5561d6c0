#ifndef DETSEG_METRICS_COCO_EVALUATOR_HPP
#define DETSEG_METRICS_COCO_EVALUATOR_HPP

/// @file
/// `coco_evaluator`: COCO detection evaluation (pycocotools' `COCOeval` evaluate + accumulate +
/// summarize) as a streaming, mergeable, serialisable state.
///
///     detseg::coco_evaluator ev(category_ids);            // sorted or not; pycocotools' catIds
///     for (each image) ev.add_image(image_id, gts, dets); // boxes as COCO (x, y, w, h)
///     detseg::coco_eval_result r = ev.accumulate();       // r.stats(): the 12 numbers
///
/// The state keeps, per image and category, only what accumulation needs: the scores of the
/// kept detections and a one-byte state (TP, FP, ignored) per detection, IoU threshold and area
/// range, and the number of non-ignored ground truths per area range. Evaluators over disjoint
/// sets of images `merge()` into the evaluator of their union, bit for bit; `save()`/`load()`
/// move a state between processes.

#include <detseg/config.hpp>
#include <detseg/core/error.hpp>
#include <detseg/core/parallel.hpp>
#include <detseg/core/tensor.hpp>
#include <detseg/metrics/coco_bbox_iou.hpp>
#include <detseg/metrics/coco_params.hpp>
#include <detseg/metrics/coco_result.hpp>
#include <detseg/metrics/detail/coco_accumulate.hpp>
#include <detseg/metrics/detail/coco_match.hpp>
#include <detseg/metrics/detail/coco_serialize.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <istream>
#include <numeric>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

namespace detseg {

/// A ground-truth object for box evaluation.
struct coco_gt {
    coco_box bbox{};              ///< x, y, w, h
    double area = 0;              ///< the annotation's `area` (area ranges use it, not the box)
    std::int64_t category_id = 0; ///< one of the evaluator's categories
    bool iscrowd = false;         ///< crowd: ignored, absorbs any number of detections
    /// The annotation id. Only 0 matters: pycocotools stores a match as the GT id, so a
    /// detection matched to the GT with id 0 counts as unmatched (reproduced; -1 = no id).
    std::int64_t id = -1;
};

/// A detection for box evaluation. Its area (for the area ranges) is `w*h`, as `loadRes`.
struct coco_det {
    coco_box bbox{};
    double score = 0;
    std::int64_t category_id = 0;
};

/// A ground truth as seen by any IoU type (`add_image_with`).
struct coco_gt_info {
    std::int64_t category_id = 0;
    double area = 0;
    bool iscrowd = false;
    std::int64_t id = -1;
};

/// A detection as seen by any IoU type (`add_image_with`).
struct coco_det_info {
    std::int64_t category_id = 0;
    double score = 0;
    double area = 0;
};

namespace detail {

/// The match records of one image: groups (image, category) in category order.
struct coco_image_record {
    std::int64_t image_id = 0;
    std::vector<std::uint32_t> cats;  ///< category index per group
    std::vector<std::uint32_t> ndets; ///< kept detections per group
    std::vector<std::uint32_t> npig;  ///< per group × area range
    std::vector<double> scores;       ///< per kept detection, score order within a group
    std::vector<std::uint8_t> states; ///< per group: D×A×T `coco_det_state`
};

} // namespace detail

/// Streaming, mergeable COCO evaluation state. Not thread-safe; `add_images` parallelises
/// internally over images.
class coco_evaluator {
public:
    static constexpr std::uint32_t format_version = 1;

    /// An evaluator over `category_ids` (pycocotools' `catIds`: every category of the ground
    /// truth, even those without annotations; any order, made sorted) with `params`.
    /// @throws invalid_argument (`coco_evaluator`, `category_ids`: duplicates; `params.*`).
    explicit coco_evaluator(std::vector<std::int64_t> category_ids, coco_params params = {})
        : params_(std::move(params)), cats_(std::move(category_ids)) {
        detail::check_coco_params(params_, "coco_evaluator");
        std::sort(cats_.begin(), cats_.end());
        DETSEG_REQUIRE(std::adjacent_find(cats_.begin(), cats_.end()) == cats_.end(),
                       "coco_evaluator", "category_ids", "has duplicates");
        for (const auto& a : params_.area_ranges) {
            area_lo_.push_back(a.lo);
            area_hi_.push_back(a.hi);
        }
    }

    [[nodiscard]] const coco_params& params() const noexcept { return params_; }
    [[nodiscard]] const std::vector<std::int64_t>& category_ids() const noexcept { return cats_; }
    /// Images added so far (including merged ones).
    [[nodiscard]] index_t num_images() const noexcept {
        return static_cast<index_t>(images_.size());
    }

    /// Evaluates one image's boxes and keeps its match records. pycocotools' `evaluateImg` for
    /// every category and area range: detections sorted by score (stable) and cut to the largest
    /// maxDets per category, greedy matching at each IoU threshold (IoU >= t, later GT wins a
    /// tie, crowd GT absorbs), area ranges from the GT `area` and the detection's `w*h`.
    /// O(A·T·D·G) per category. @throws invalid_argument (`coco_evaluator::add_image`):
    /// `image_id` already added; `gts`/`dets`: an unknown category, a non-finite coordinate, a
    /// negative width or height, a NaN area or score (the message names the index).
    void add_image(std::int64_t image_id, std::span<const coco_gt> gts,
                   std::span<const coco_det> dets) {
        check_new_image(image_id, "coco_evaluator::add_image");
        detail::coco_image_record rec;
        build_bbox_record(image_id, gts, dets, rec, scratch_);
        append(std::move(rec));
    }

    /// `add_image` for many images (`gts[i]`, `dets[i]` belong to `image_ids[i]`), images in
    /// parallel (OpenMP); the state is identical to adding them one by one. Nothing is added
    /// if any image is rejected. @throws as `add_image`, and for lengths that differ.
    void add_images(std::span<const std::int64_t> image_ids,
                    std::span<const std::span<const coco_gt>> gts,
                    std::span<const std::span<const coco_det>> dets) {
        const char* fn = "coco_evaluator::add_images";
        DETSEG_REQUIRE(gts.size() == image_ids.size(), fn, "gts", "has ", gts.size(),
                       " entries for ", image_ids.size(), " images");
        DETSEG_REQUIRE(dets.size() == image_ids.size(), fn, "dets", "has ", dets.size(),
                       " entries for ", image_ids.size(), " images");
        std::unordered_set<std::int64_t> batch;
        for (std::int64_t id : image_ids) {
            DETSEG_REQUIRE(!seen_.contains(id) && batch.insert(id).second, fn, "image_ids",
                           "image ", id, " is added twice");
        }
        const index_t n = static_cast<index_t>(image_ids.size());
        std::vector<detail::coco_image_record> recs(static_cast<std::size_t>(n));
        const index_t grain = 16;
        parallel_for_chunks(n, grain, [&](index_t b, index_t e) {
            detail::coco_match_scratch s;
            for (index_t i = b; i < e; ++i) {
                const auto u = static_cast<std::size_t>(i);
                build_bbox_record(image_ids[u], gts[u], dets[u], recs[u], s);
            }
        });
        for (auto& r : recs)
            append(std::move(r));
    }

    /// Evaluates one image with any IoU type. `iou(det_idx, gt_idx, out)` must write
    /// `out[d*G + g]` = IoU of `dets[det_idx[d]]` with `gts[gt_idx[g]]` (crowd GTs as the IoU
    /// type defines, e.g. intersection over detection area) for the D×G pairs of one category.
    /// Detection areas are `dets[i].area`. @throws as `add_image`.
    template <class IouFn>
    void add_image_with(std::int64_t image_id, std::span<const coco_gt_info> gts,
                        std::span<const coco_det_info> dets, IouFn&& iou) {
        const char* fn = "coco_evaluator::add_image_with";
        check_new_image(image_id, fn);
        for (std::size_t i = 0; i < gts.size(); ++i) {
            check_category(gts[i].category_id, fn, "gts", i);
            DETSEG_REQUIRE(!std::isnan(gts[i].area), fn, "gts", "gts[", i, "]: area is NaN");
        }
        for (std::size_t i = 0; i < dets.size(); ++i) {
            check_category(dets[i].category_id, fn, "dets", i);
            DETSEG_REQUIRE(!std::isnan(dets[i].score), fn, "dets", "dets[", i, "]: score is NaN");
            DETSEG_REQUIRE(!std::isnan(dets[i].area), fn, "dets", "dets[", i, "]: area is NaN");
        }
        detail::coco_image_record rec;
        build_record(image_id, gts, dets, iou, rec, scratch_);
        append(std::move(rec));
    }

    /// Adds the images of `other` (same categories and parameters, disjoint images). Any split
    /// of the images into shards, merged in any order, accumulates to the same bits as one
    /// pass. O(size of other). @throws invalid_argument (`coco_evaluator::merge`, `other`).
    void merge(const coco_evaluator& other) {
        const char* fn = "coco_evaluator::merge";
        DETSEG_REQUIRE(other.params_ == params_, fn, "other", "has other parameters");
        DETSEG_REQUIRE(other.cats_ == cats_, fn, "other", "has other categories");
        for (const auto& im : other.images_)
            DETSEG_REQUIRE(!seen_.contains(im.image_id), fn, "other", "image ", im.image_id,
                           " is in both evaluators");
        const std::size_t G = groups_.size();
        const std::size_t S = scores_.size();
        for (const auto& im : other.images_) {
            images_.push_back({im.image_id, im.first_group + G, im.num_groups});
            seen_.insert(im.image_id);
        }
        for (const auto& g : other.groups_)
            groups_.push_back({g.cat, g.ndets, g.det_offset + S});
        npig_.insert(npig_.end(), other.npig_.begin(), other.npig_.end());
        scores_.insert(scores_.end(), other.scores_.begin(), other.scores_.end());
        states_.insert(states_.end(), other.states_.begin(), other.states_.end());
    }

    /// pycocotools' `accumulate()` and `summarize()` over every image added: images in image-id
    /// order, per category all kept detections sorted by score (stable), cumulative TP/FP per
    /// IoU threshold, `pr = tp/(tp+fp+eps)` (`eps = np.spacing(1)`), precision made monotone
    /// from the right and read at `searchsorted(rc, recThrs, 'left')` (0 past the end).
    /// O(K·(N log N + A·M·T·N)) for N kept detections per category; categories in parallel.
    [[nodiscard]] coco_eval_result accumulate() const {
        std::vector<std::size_t> imgs(images_.size());
        std::iota(imgs.begin(), imgs.end(), std::size_t{0});
        std::sort(imgs.begin(), imgs.end(), [&](std::size_t a, std::size_t b) {
            return images_[a].image_id < images_[b].image_id;
        });
        std::vector<std::size_t> order;
        order.reserve(groups_.size());
        for (std::size_t i : imgs)
            for (std::size_t g = 0; g < images_[i].num_groups; ++g)
                order.push_back(images_[i].first_group + g);
        return detail::coco_accumulate(params_, cats_, {groups_, order, npig_, scores_, states_});
    }

    /// Writes the state (versioned little-endian binary). @throws io_error when the stream fails.
    void save(std::ostream& out) const {
        detail::binary_writer w(out);
        out.write(magic, 8);
        w.put<std::uint32_t>(format_version);
        w.put<std::uint64_t>(params_.iou_thresholds.size());
        w.put_array(params_.iou_thresholds);
        w.put<std::uint64_t>(params_.recall_thresholds.size());
        w.put_array(params_.recall_thresholds);
        w.put<std::uint64_t>(params_.max_dets.size());
        for (index_t m : params_.max_dets)
            w.put<std::int64_t>(m);
        w.put<std::uint64_t>(params_.area_ranges.size());
        for (const auto& a : params_.area_ranges) {
            w.put_string(a.label);
            w.put(a.lo);
            w.put(a.hi);
        }
        w.put<std::uint8_t>(params_.use_cats ? 1 : 0);
        w.put<std::uint8_t>(static_cast<std::uint8_t>(params_.summary));
        w.put<std::uint64_t>(cats_.size());
        w.put_array(cats_);
        w.put<std::uint64_t>(images_.size());
        for (const auto& im : images_) {
            w.put<std::int64_t>(im.image_id);
            w.put<std::uint64_t>(im.num_groups);
        }
        // groups in image order (merge() may have appended them in another order)
        std::vector<std::uint32_t> gcat, gnd, npig;
        std::vector<double> scores;
        std::vector<std::uint8_t> states;
        const std::size_t AT = params_.area_ranges.size() * params_.iou_thresholds.size();
        for (const auto& im : images_)
            for (std::size_t g = im.first_group; g < im.first_group + im.num_groups; ++g) {
                const auto& gr = groups_[g];
                gcat.push_back(gr.cat);
                gnd.push_back(gr.ndets);
                const std::size_t A = params_.area_ranges.size();
                npig.insert(npig.end(), npig_.begin() + static_cast<std::ptrdiff_t>(g * A),
                            npig_.begin() + static_cast<std::ptrdiff_t>((g + 1) * A));
                scores.insert(
                    scores.end(), scores_.begin() + static_cast<std::ptrdiff_t>(gr.det_offset),
                    scores_.begin() + static_cast<std::ptrdiff_t>(gr.det_offset + gr.ndets));
                states.insert(
                    states.end(), states_.begin() + static_cast<std::ptrdiff_t>(gr.det_offset * AT),
                    states_.begin() + static_cast<std::ptrdiff_t>((gr.det_offset + gr.ndets) * AT));
            }
        w.put<std::uint64_t>(gcat.size());
        w.put_array(gcat);
        w.put_array(gnd);
        w.put_array(npig);
        w.put_array(scores);
        w.put_array(states);
        w.finish("detseg::coco_evaluator::save");
    }
    /// Reads a state written by `save`. @throws io_error (bad magic, version, truncation,
    /// inconsistent sizes).
    [[nodiscard]] static coco_evaluator load(std::istream& in) {
        detail::binary_reader r(in, "detseg::coco_evaluator::load");
        char m[8] = {};
        in.read(m, 8);
        if (in.gcount() != 8 || std::memcmp(m, magic, 8) != 0)
            r.fail("not a detseg COCO evaluator state");
        const auto version = r.get<std::uint32_t>();
        if (version != format_version)
            r.fail("unsupported format version " + std::to_string(version));
        auto small = [&](std::uint64_t n) {
            if (n > (1u << 24))
                r.fail("corrupt parameter count");
            return n;
        };
        coco_params p;
        p.iou_thresholds = r.get_array<double>(small(r.get<std::uint64_t>()));
        p.recall_thresholds = r.get_array<double>(small(r.get<std::uint64_t>()));
        p.max_dets.clear();
        for (auto n = small(r.get<std::uint64_t>()); n > 0; --n)
            p.max_dets.push_back(static_cast<index_t>(r.get<std::int64_t>()));
        p.area_ranges.clear();
        for (auto n = small(r.get<std::uint64_t>()); n > 0; --n) {
            coco_area_range a;
            a.label = r.get_string();
            a.lo = r.get<double>();
            a.hi = r.get<double>();
            p.area_ranges.push_back(std::move(a));
        }
        const auto use_cats = r.get<std::uint8_t>();
        const auto summary = r.get<std::uint8_t>();
        if (use_cats > 1 || summary > 1)
            r.fail("corrupt parameters");
        p.use_cats = use_cats == 1;
        p.summary = static_cast<coco_summary_mode>(summary);
        auto cats = r.get_array<std::int64_t>(small(r.get<std::uint64_t>()));
        std::optional<coco_evaluator> ev;
        try {
            ev.emplace(std::move(cats), std::move(p));
        } catch (const invalid_argument& e) {
            r.fail(std::string("invalid parameters: ") + e.what());
        }
        const std::uint64_t n_images = r.get<std::uint64_t>();
        std::uint64_t total_groups = 0;
        for (std::uint64_t i = 0; i < n_images; ++i) {
            const auto id = r.get<std::int64_t>();
            const auto ng = r.get<std::uint64_t>();
            if (!ev->seen_.insert(id).second)
                r.fail("image " + std::to_string(id) + " appears twice");
            if (ng > (1u << 24))
                r.fail("corrupt group count");
            ev->images_.push_back(
                {id, static_cast<std::size_t>(total_groups), static_cast<std::size_t>(ng)});
            total_groups += ng;
        }
        if (r.get<std::uint64_t>() != total_groups)
            r.fail("inconsistent group count");
        const auto gcat = r.get_array<std::uint32_t>(total_groups);
        const auto gnd = r.get_array<std::uint32_t>(total_groups);
        const std::size_t A = ev->params_.area_ranges.size();
        const std::size_t T = ev->params_.iou_thresholds.size();
        const std::uint64_t K = ev->params_.use_cats ? ev->cats_.size() : 1;
        std::size_t dets = 0;
        for (std::size_t g = 0; g < gcat.size(); ++g) {
            if (gcat[g] >= K || gnd[g] > static_cast<std::uint64_t>(ev->params_.max_dets.back()))
                r.fail("corrupt group " + std::to_string(g));
            ev->groups_.push_back({gcat[g], gnd[g], dets});
            dets += gnd[g];
        }
        ev->npig_ = r.get_array<std::uint32_t>(total_groups * A);
        ev->scores_ = r.get_array<double>(dets);
        ev->states_ = r.get_array<std::uint8_t>(dets * A * T);
        for (double s : ev->scores_)
            if (std::isnan(s))
                r.fail("NaN score");
        for (std::uint8_t s : ev->states_)
            if (s > detail::coco_fp)
                r.fail("corrupt match state");
        return std::move(*ev);
    }

private:
    static constexpr char magic[9] = "DSCOCOEV";

    struct image_entry {
        std::int64_t image_id;
        std::size_t first_group;
        std::size_t num_groups;
    };
    using group_entry = detail::coco_group_view; // states at det_offset*A*T

    void check_new_image(std::int64_t image_id, const char* fn) const {
        DETSEG_REQUIRE(!seen_.contains(image_id), fn, "image_id", "image ", image_id,
                       " is already added");
    }

    void check_category(std::int64_t id, const char* fn, const char* arg, std::size_t i) const {
        DETSEG_REQUIRE(std::binary_search(cats_.begin(), cats_.end(), id), fn, arg, arg, "[", i,
                       "]: category_id ", id, " is not a category of the evaluator");
    }

    [[nodiscard]] std::uint32_t cat_index(std::int64_t id) const {
        return static_cast<std::uint32_t>(std::lower_bound(cats_.begin(), cats_.end(), id) -
                                          cats_.begin());
    }

    void build_bbox_record(std::int64_t image_id, std::span<const coco_gt> gts,
                           std::span<const coco_det> dets, detail::coco_image_record& rec,
                           detail::coco_match_scratch& s) const {
        const char* fn = "coco_evaluator::add_image";
        std::vector<coco_gt_info> gi(gts.size());
        std::vector<coco_det_info> di(dets.size());
        for (std::size_t i = 0; i < gts.size(); ++i) {
            const auto& g = gts[i];
            check_category(g.category_id, fn, "gts", i);
            check_box(g.bbox, fn, "gts", i);
            DETSEG_REQUIRE(!std::isnan(g.area), fn, "gts", "gts[", i, "]: area is NaN");
            gi[i] = {g.category_id, g.area, g.iscrowd, g.id};
        }
        for (std::size_t i = 0; i < dets.size(); ++i) {
            const auto& d = dets[i];
            check_category(d.category_id, fn, "dets", i);
            check_box(d.bbox, fn, "dets", i);
            DETSEG_REQUIRE(!std::isnan(d.score), fn, "dets", "dets[", i, "]: score is NaN");
            di[i] = {d.category_id, d.score, detail::rounded(d.bbox[2] * d.bbox[3])};
        }
        auto iou = [&](std::span<const index_t> di_idx, std::span<const index_t> gi_idx,
                       std::span<double> out) {
            const std::size_t G = gi_idx.size();
            for (std::size_t d = 0; d < di_idx.size(); ++d) {
                const coco_box& db = dets[static_cast<std::size_t>(di_idx[d])].bbox;
                for (std::size_t g = 0; g < G; ++g) {
                    const coco_gt& gt = gts[static_cast<std::size_t>(gi_idx[g])];
                    out[d * G + g] = coco_bbox_iou(db, gt.bbox, gt.iscrowd);
                }
            }
        };
        build_record(image_id, std::span<const coco_gt_info>(gi),
                     std::span<const coco_det_info>(di), iou, rec, s);
    }

    static void check_box(const coco_box& b, const char* fn, const char* arg, std::size_t i) {
        for (double v : b)
            DETSEG_REQUIRE(std::isfinite(v), fn, arg, arg, "[", i,
                           "]: bbox has a non-finite value");
        DETSEG_REQUIRE(b[2] >= 0 && b[3] >= 0, fn, arg, arg, "[", i,
                       "]: bbox has a negative width or height");
    }

    template <class IouFn>
    void build_record(std::int64_t image_id, std::span<const coco_gt_info> gts,
                      std::span<const coco_det_info> dets, IouFn& iou,
                      detail::coco_image_record& rec, detail::coco_match_scratch& s) const {
        rec = {};
        rec.image_id = image_id;
        const std::size_t A = params_.area_ranges.size();
        const std::size_t T = params_.iou_thresholds.size();
        const auto max_det = static_cast<std::size_t>(params_.max_dets.back());
        // group key: the category index, or 0 for all when categories are pooled; pooled groups
        // list objects by category, then input order (pycocotools' concatenation over catIds)
        std::vector<index_t> go(gts.size()), dord(dets.size());
        std::vector<std::uint32_t> gk(gts.size()), dk(dets.size());
        for (std::size_t i = 0; i < gts.size(); ++i)
            gk[i] = cat_index(gts[i].category_id);
        for (std::size_t i = 0; i < dets.size(); ++i)
            dk[i] = cat_index(dets[i].category_id);
        std::iota(go.begin(), go.end(), index_t{0});
        std::iota(dord.begin(), dord.end(), index_t{0});
        std::stable_sort(go.begin(), go.end(), [&](index_t a, index_t b) {
            return gk[static_cast<std::size_t>(a)] < gk[static_cast<std::size_t>(b)];
        });
        std::stable_sort(dord.begin(), dord.end(), [&](index_t a, index_t b) {
            return dk[static_cast<std::size_t>(a)] < dk[static_cast<std::size_t>(b)];
        });
        auto key = [&](std::uint32_t k) { return params_.use_cats ? k : 0u; };
        std::vector<detail::coco_match_gt> mg;
        std::vector<double> ious, darea;
        std::size_t gi = 0, di = 0;
        while (gi < go.size() || di < dord.size()) {
            const std::uint32_t kg =
                gi < go.size() ? key(gk[static_cast<std::size_t>(go[gi])]) : ~0u;
            const std::uint32_t kd =
                di < dord.size() ? key(dk[static_cast<std::size_t>(dord[di])]) : ~0u;
            const std::uint32_t k = std::min(kg, kd);
            const std::size_t g0 = gi, d0 = di;
            while (gi < go.size() && key(gk[static_cast<std::size_t>(go[gi])]) == k)
                ++gi;
            while (di < dord.size() && key(dk[static_cast<std::size_t>(dord[di])]) == k)
                ++di;
            std::span<const index_t> gidx(go.data() + g0, gi - g0);
            std::span<index_t> didx(dord.data() + d0, di - d0);
            std::stable_sort(didx.begin(), didx.end(), [&](index_t a, index_t b) {
                return dets[static_cast<std::size_t>(a)].score >
                       dets[static_cast<std::size_t>(b)].score;
            });
            const std::size_t D = std::min(didx.size(), max_det);
            const std::size_t G = gidx.size();
            std::span<const index_t> kept(didx.data(), D);
            mg.resize(G);
            for (std::size_t g = 0; g < G; ++g) {
                const auto& x = gts[static_cast<std::size_t>(gidx[g])];
                mg[g] = {x.area, x.iscrowd, x.id == 0};
            }
            darea.resize(D);
            rec.cats.push_back(k);
            rec.ndets.push_back(static_cast<std::uint32_t>(D));
            for (std::size_t d = 0; d < D; ++d) {
                const auto& x = dets[static_cast<std::size_t>(kept[d])];
                darea[d] = x.area;
                rec.scores.push_back(x.score);
            }
            ious.assign(D * G, 0.0);
            if (D > 0 && G > 0) {
                iou(kept, gidx, std::span<double>(ious));
                for (double x : ious)
                    DETSEG_REQUIRE(!std::isnan(x), "coco_evaluator::add_image_with", "iou",
                                   "the IoU function returned NaN for image ", image_id);
            }
            const std::size_t n0 = rec.npig.size(), s0 = rec.states.size();
            rec.npig.resize(n0 + A);
            rec.states.resize(s0 + A * T * D);
            detail::coco_match_group(ious, mg, darea, params_.iou_thresholds, area_lo_, area_hi_,
                                     std::span<std::uint32_t>(rec.npig).subspan(n0, A),
                                     std::span<std::uint8_t>(rec.states).subspan(s0, A * T * D), s);
        }
    }

    void append(detail::coco_image_record&& rec) {
        seen_.insert(rec.image_id);
        images_.push_back({rec.image_id, groups_.size(), rec.cats.size()});
        std::size_t off = scores_.size();
        for (std::size_t g = 0; g < rec.cats.size(); ++g) {
            groups_.push_back({rec.cats[g], rec.ndets[g], off});
            off += rec.ndets[g];
        }
        npig_.insert(npig_.end(), rec.npig.begin(), rec.npig.end());
        scores_.insert(scores_.end(), rec.scores.begin(), rec.scores.end());
        states_.insert(states_.end(), rec.states.begin(), rec.states.end());
    }

    coco_params params_;
    std::vector<std::int64_t> cats_;
    std::vector<double> area_lo_, area_hi_;
    std::vector<image_entry> images_;
    std::vector<group_entry> groups_;
    std::vector<std::uint32_t> npig_;
    std::vector<double> scores_;
    std::vector<std::uint8_t> states_;
    std::unordered_set<std::int64_t> seen_;
    detail::coco_match_scratch scratch_;
};

} // namespace detseg

#endif // DETSEG_METRICS_COCO_EVALUATOR_HPP
