// The SGAN's networks (ssl/sgan_internal.h): the discriminator's two variants, the moving average of its
// weights (ssl/sgan.h), building the run's networks, and scoring the discriminator as a classifier.
#include "ssl/sgan_internal.h"

#include <algorithm>

#include "ssl/evaluate.h"

namespace ssl {

// ---- weight averaging ------------------------------------------------------------------------------------

double ema_decay_at(double decay, int64_t t) {
  SSL_CHECK(t >= 0, "ema_decay_at: step ", t, " is negative");
  return std::min(decay, double(1 + t) / double(10 + t));
}

void update_average(const nn::Module& average, const nn::Module& live, double d) {
  const auto avg = average.state(), cur = live.state();
  SSL_CHECK(avg.size() == cur.size(), "update_average: ", avg.size(), " tensors to average, ", cur.size(),
            " given");
  NoGradGuard no_grad;
  for (size_t i = 0; i < avg.size(); ++i) {
    Tensor a = avg[i].second;
    SSL_CHECK(avg[i].first == cur[i].first && a.shape() == cur[i].second.shape(), "update_average: '",
              avg[i].first, "' ", a.shape(), " and '", cur[i].first, "' ", cur[i].second.shape(),
              " are not one network's tensor");
    // Counters (BatchNorm's batches seen) are the live module's; only real values are averaged.
    a.copy_(a.dtype() == DType::i64 ? cur[i].second : a * d + cur[i].second * (1 - d));
  }
}

// ---- the discriminator's variants ------------------------------------------------------------------------

namespace {

// nn::SganDiscriminator, with its own state_dict names (main.*).
class DcganDiscriminator final : public Discriminator {
 public:
  explicit DcganDiscriminator(std::shared_ptr<nn::SganDiscriminator> net) : net_(std::move(net)) {
    register_module("main", net_->main);
  }
  Tensor features(const Tensor& x) override { return net_->features(x); }
  Tensor classify(const Tensor& features) override { return net_->classify(features); }
  // The trunk (nn::sgan_trunk) with its first convolution's weights halved (a copy), which takes back the
  // doubling of its input: (W / 2) * 2x = W * x.
  std::vector<std::pair<std::string, Tensor>> encoder_state() const override {
    std::vector<std::pair<std::string, Tensor>> state = net_->trunk()->state();
    NoGradGuard no_grad;
    for (auto& [name, tensor] : state)
      if (name == "0.weight") tensor = tensor * 0.5;
    return state;
  }

 private:
  std::shared_ptr<nn::SganDiscriminator> net_;
};

// A pretrained encoder (encoder.*) with a new Linear(F → K+1) head (head.*).
class EncoderDiscriminator final : public Discriminator {
 public:
  EncoderDiscriminator(nn::EncoderPtr e, int64_t classes)
      : encoder(register_module("encoder", std::move(e))),
        head(register_module("head", std::make_shared<nn::Linear>(encoder->feature_dim, classes + 1))) {}
  // Doubling [−1, 1] gives (x/255 − 0.5) / 0.25, the normalisation the encoder was trained with.
  Tensor features(const Tensor& x) override { return encoder->forward(x * 2.0).flatten(1); }
  Tensor classify(const Tensor& features) override { return head->forward(features); }
  std::vector<std::pair<std::string, Tensor>> encoder_state() const override { return encoder->state(); }
  nn::EncoderPtr encoder;
  std::shared_ptr<nn::Linear> head;
};

// The discriminator the options ask for: the DCGAN-style one, or a pretrained encoder with a new head.
std::shared_ptr<Discriminator> make_discriminator(const SganOptions& o, int64_t classes) {
  if (o.init_discriminator.empty())
    return std::make_shared<DcganDiscriminator>(nn::sgan_discriminator(classes, o.image_size));
  nn::EncoderPtr encoder = load_encoder(o.init_discriminator, o.seed, o.image_size);
  SSL_CHECK(encoder->image_size == o.image_size, "sgan: the encoder of ", o.init_discriminator, " takes ",
            encoder->image_size, "-pixel images but the run's image size is ", o.image_size);
  SSL_CHECK(encoder->feature_dim > 0, "sgan: the encoder of ", o.init_discriminator,
            " does not say its feature size");
  return std::make_shared<EncoderDiscriminator>(encoder, classes);
}

}  // namespace

// ---- the run's networks ----------------------------------------------------------------------------------

SganModels make_sgan_models(const SganOptions& o, int64_t classes) {
  // The discriminator first: load_encoder("random:MODEL") reseeds the default generator.
  const std::shared_ptr<Discriminator> disc = make_discriminator(o, classes);
  std::shared_ptr<Discriminator> disc_ema;
  if (o.ema_decay > 0) {
    // A copy of the discriminator, made without drawing from the run's random streams: averaging changes
    // nothing in what is trained.
    const uint64_t seed = default_generator().seed(), used = default_generator().streams_used();
    disc_ema = make_discriminator(o, classes);
    default_generator().set_state(seed, used);
    update_average(*disc_ema, *disc, 0);
  }
  auto gen = std::make_shared<nn::SganGenerator>(o.latent, o.image_size);
  return SganModels(gen, disc, disc_ema);
}

// ---- scoring ---------------------------------------------------------------------------------------------

TopK score_discriminator(Discriminator& d, data::Loader& loader) {
  d.eval();
  NoGradGuard no_grad;
  loader.start_epoch(0);
  std::vector<Tensor> scores, labels;
  data::Batch batch;
  while (loader.next(batch)) {
    batch.to(d.device());
    scores.push_back(real_logits(d.forward(batch.images)).contiguous());
    labels.push_back(batch.labels);
  }
  d.train();
  return topk_accuracy(cat(scores, 0), cat(labels, 0));
}

}  // namespace ssl
