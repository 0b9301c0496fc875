// An Env for tests whose subject is not durability: everything goes to the POSIX Env, except that
// Sync only flushes and SyncDir does nothing. Flushes and compactions each cost several fsyncs,
// and a test that runs hundreds of them would otherwise spend its time waiting for the disk.
// What a crash keeps is unchanged (Flush hands the bytes to the OS); what a power loss keeps is
// not modelled (see fault_injection_env.h for that).
#ifndef KVSTORE_TESTING_NO_SYNC_ENV_H_
#define KVSTORE_TESTING_NO_SYNC_ENV_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kvstore/env.h"

namespace kvstore::testing {

class NoSyncEnv final : public EnvWrapper {
 public:
  // The process-wide instance (Options::env is a plain pointer that must outlive the store).
  static NoSyncEnv* Get() {
    static NoSyncEnv* env = new NoSyncEnv;
    return env;
  }

  NoSyncEnv() : EnvWrapper(Env::Default()) {}

  absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override {
    auto file = target()->NewWritableFile(path);
    if (!file.ok()) return file.status();
    return std::unique_ptr<WritableFile>(new File(std::move(*file)));
  }
  absl::Status SyncDir(const std::string& dir) override { return absl::OkStatus(); }

 private:
  class File final : public WritableFile {
   public:
    explicit File(std::unique_ptr<WritableFile> base) : base_(std::move(base)) {}
    absl::Status Append(absl::string_view data) override { return base_->Append(data); }
    absl::Status Flush() override { return base_->Flush(); }
    absl::Status Sync() override { return base_->Flush(); }
    absl::Status Close() override { return base_->Close(); }

   private:
    std::unique_ptr<WritableFile> base_;
  };
};

}  // namespace kvstore::testing

#endif  // KVSTORE_TESTING_NO_SYNC_ENV_H_
