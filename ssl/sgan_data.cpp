// The SGAN's data (ssl/sgan_internal.h): the labelled, unlabelled and test images, checked and resized to
// the run's size, and the loaders that train on them and score them.
#include "ssl/sgan_internal.h"

#include <algorithm>

#include "data/class_mapping.h"
#include "data/registry.h"

namespace ssl {

namespace {

// Pixels to [−1, 1], the generator's tanh range; batches in pinned memory when training on a GPU.
data::LoaderOptions gan_loader_options(int64_t batch_size, uint64_t seed, int workers, Device device) {
  data::LoaderOptions lo;
  lo.batch_size = batch_size;
  lo.seed = seed;
  lo.workers = workers;
  lo.pin_memory = device.is_cuda();
  lo.mean = {0.5f};
  lo.stddev = {0.5f};
  return lo;
}

// A Resize to the run's size for a dataset whose images have another (STL-10's 96 px in a 64-px run).
std::unique_ptr<data::Transform> resize_for(const data::Dataset& d, int64_t size) {
  SSL_CHECK(d.size() > 0, "sgan: dataset ", d.name(), " is empty");
  const data::Image first = d.image(0);
  SSL_CHECK(first.c == 3, "sgan: ", d.name(), " has ", first.c,
            "-channel images; the networks take 3 channels");
  return data::resize_if_needed(d, size);
}

}  // namespace

SganData open_sgan_data(const SganOptions& o, Device device) {
  SganData d;
  const bool semi = !o.unlabelled.empty();
  data::OpenOptions open;
  open.image_size = o.image_size;
  open.skip_bad_images = o.skip_bad_images;
  d.labelled = data::open_dataset(o.labelled, open);
  d.classes = d.labelled->num_classes();
  SSL_CHECK(d.classes >= 1, "sgan: the labelled data ", d.labelled->name(), " (", o.labelled,
            ") has no classes");
  if (semi) d.unlabelled = data::open_dataset(o.unlabelled, open);
  d.test = data::open_dataset(o.test, open);
  data::check_same_classes(*d.labelled, *d.test, "sgan --test");
  // Both are scored by label: checked now, before anything is written.
  for (const auto& [set, flag] :
       {std::pair{d.labelled.get(), "--labelled"}, std::pair{d.test.get(), "--test"}}) {
    const int64_t unlabelled = data::first_unlabelled(*set);
    SSL_CHECK(unlabelled < 0, "sgan: image ", unlabelled, " of ", flag, " ", set->name(), " is unlabelled; ",
              flag, " needs a labelled spec (e.g. SPEC@N, not SPEC@N,rest)");
  }

  d.labelled_resize = resize_for(*d.labelled, o.image_size);
  d.test_resize = resize_for(*d.test, o.image_size);
  if (semi) d.unlabelled_resize = resize_for(*d.unlabelled, o.image_size);

  // Labelled batches are at most the labelled set, which must hold 2 images at least; both loaders drop a
  // last partial batch (BatchNorm).
  SSL_CHECK(d.labelled->size() >= 2, "sgan: batch norm needs 2 labelled images at least, and ",
            d.labelled->name(), " has ", d.labelled->size());
  data::LoaderOptions lab_opt = gan_loader_options(std::min(o.batch_size, d.labelled->size()),
                                                   rng::mix64(o.seed, 1), o.workers, device);
  lab_opt.drop_last = true;
  lab_opt.transform = d.labelled_resize.get();
  d.lab_loader = std::make_unique<data::Loader>(*d.labelled, lab_opt);
  if (semi) {
    data::LoaderOptions unl_opt = gan_loader_options(o.batch_size, rng::mix64(o.seed, 2), o.workers, device);
    unl_opt.drop_last = true;
    unl_opt.transform = d.unlabelled_resize.get();
    d.unl_loader = std::make_unique<data::Loader>(*d.unlabelled, unl_opt);
    SSL_CHECK(d.unl_loader->batches_per_epoch() > 0, "sgan: the unlabelled data ", d.unlabelled->name(),
              " has fewer images than one batch (", o.batch_size, ")");
  }
  // Scoring passes: every image once, in order, without augmentation.
  const auto scoring_loader = [&](const data::Dataset& data, const data::Transform* resize) {
    data::LoaderOptions opt = gan_loader_options(256, 0, o.workers, device);
    opt.shuffle = false;
    opt.transform = resize;
    return std::make_unique<data::Loader>(data, opt);
  };
  d.test_loader = scoring_loader(*d.test, d.test_resize.get());
  d.labelled_scoring_loader = scoring_loader(*d.labelled, d.labelled_resize.get());
  const int64_t lab_batches = d.lab_loader->batches_per_epoch();
  d.steps_per_epoch = semi ? d.unl_loader->batches_per_epoch() : lab_batches;
  if (o.max_steps_per_epoch > 0) d.steps_per_epoch = std::min(d.steps_per_epoch, o.max_steps_per_epoch);
  d.cycles = (d.steps_per_epoch + lab_batches - 1) / lab_batches;  // labelled passes per epoch
  return d;
}

}  // namespace ssl
