#include "projections/store.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>
#include <sodium.h>

#include "engine/record/hash.h"
#include "projections/rows.h"

namespace sazesh::projections {
namespace {

error from_status(const rocksdb::Status& s, const std::string& what) {
  if (s.IsIOError() && s.ToString().find("lock") != std::string::npos)
    return error(errc::unavailable, "projections", what + " is in use by another projector");
  return error(errc::io, "projections", what + ": " + s.ToString());
}

class rocks_store final : public projection_store {
 public:
  rocks_store(std::unique_ptr<rocksdb::DB> db, store_mode mode) : db_(std::move(db)), mode_(mode) {}
  ~rocks_store() override {
    if (mode_ == store_mode::bulk_load) db_->Flush(rocksdb::FlushOptions());
  }

  std::optional<std::string> get(std::string_view key) const override {
    std::string value;
    auto s = db_->Get(rocksdb::ReadOptions(), rocksdb::Slice(key.data(), key.size()), &value);
    if (!s.ok()) return std::nullopt;
    return value;
  }

  void scan(std::string_view from, std::string_view to,
            const std::function<bool(std::string_view, std::string_view)>& each) const override {
    rocksdb::ReadOptions ro;
    rocksdb::Slice upper(to.data(), to.size());
    ro.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
    for (it->Seek(rocksdb::Slice(from.data(), from.size())); it->Valid(); it->Next()) {
      const auto k = it->key();
      const auto v = it->value();
      if (!each(std::string_view(k.data(), k.size()), std::string_view(v.data(), v.size()))) break;
    }
  }

  status commit(const change_set& changes) override {
    if (mode_ == store_mode::read_only)
      return error(errc::unavailable, "projections", "opened read-only");
    rocksdb::WriteBatch batch;
    for (const auto& [k, v] : changes.changes()) {
      if (v) batch.Put(k, *v);
      else batch.Delete(k);
    }
    rocksdb::WriteOptions wo;
    wo.disableWAL = mode_ == store_mode::bulk_load;
    auto s = db_->Write(wo, &batch);
    if (!s.ok()) return from_status(s, "writing projections");
    return ok;
  }

  status flush() override {
    auto s = db_->Flush(rocksdb::FlushOptions());
    if (!s.ok()) return from_status(s, "flushing projections");
    return ok;
  }

  result<std::string> digest() const override {
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      // Length-prefixed, so ("ab","c") and ("a","bc") hash differently.
      const std::string klen = encode_u64(it->key().size()), vlen = encode_u64(it->value().size());
      crypto_hash_sha256_update(&st, reinterpret_cast<const unsigned char*>(klen.data()), klen.size());
      crypto_hash_sha256_update(&st, reinterpret_cast<const unsigned char*>(it->key().data()), it->key().size());
      crypto_hash_sha256_update(&st, reinterpret_cast<const unsigned char*>(vlen.data()), vlen.size());
      crypto_hash_sha256_update(&st, reinterpret_cast<const unsigned char*>(it->value().data()), it->value().size());
    }
    if (!it->status().ok()) return from_status(it->status(), "reading projections");
    unsigned char out[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&st, out);
    return to_hex(std::string_view(reinterpret_cast<const char*>(out), sizeof out));
  }

  result<std::uint64_t> key_count() const override {
    std::uint64_t n = 0;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    for (it->SeekToFirst(); it->Valid(); it->Next()) ++n;
    return n;
  }

 private:
  std::unique_ptr<rocksdb::DB> db_;
  store_mode mode_;
};

}  // namespace

result<std::unique_ptr<projection_store>> projection_store::open(const std::filesystem::path& folder,
                                                                 store_mode mode) {
  if (sodium_init() < 0) return error(errc::io, "projections", "libsodium failed to initialise");
  rocksdb::Options options;
  options.create_if_missing = mode != store_mode::read_only;
  options.max_open_files = 256;
  if (mode == store_mode::bulk_load) {
    options.write_buffer_size = 128 << 20;
    options.max_write_buffer_number = 4;
  }
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s;
  if (mode == store_mode::read_only) {
    std::error_code ec;
    if (!std::filesystem::exists(folder / "CURRENT", ec))
      return error(errc::not_found, "projections",
                   "there are no projections in " + folder.string() + " yet (run: sazesh project)");
    s = rocksdb::DB::OpenForReadOnly(options, folder.string(), &raw);
  } else {
    std::error_code ec;
    std::filesystem::create_directories(folder, ec);
    s = rocksdb::DB::Open(options, folder.string(), &raw);
  }
  if (!s.ok()) return from_status(s, "opening " + folder.string());
  std::unique_ptr<rocksdb::DB> db(raw);
  auto store = std::make_unique<rocks_store>(std::move(db), mode);
  if (mode != store_mode::read_only) {
    const auto fmt_key = keys::format();
    auto existing = store->get(fmt_key);
    if (existing && decode_u64(*existing) != row_format_version)
      return error(errc::corrupt, "projections",
                   "written in another row format; rebuild them (sazesh rebuild)");
    if (!existing) {
      change_set c(*store);
      c.put(fmt_key, encode_u64(row_format_version));
      if (auto st = store->commit(c); !st) return st.error();
    }
  }
  return std::unique_ptr<projection_store>(std::move(store));
}

}  // namespace sazesh::projections
