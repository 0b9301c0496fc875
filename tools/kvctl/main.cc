// kvctl: inspects and operates a kvstore store from the command line, showing keys and values as
// the typed values they are (decoded by the type signature the store records). Inspection
// commands open the store read-only, so they work on a store a running program holds open.
// Exit status: 0 success, 1 error (including a damaged store or a key not found), 2 usage.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "kvstore/database.h"
#include "kvstore/env.h"
#include "kvstore/internal/batch.h"
#include "kvstore/internal/coding.h"
#include "kvstore/internal/format.h"
#include "kvstore/internal/manifest.h"
#include "tools/kvctl/raw_store.h"
#include "tools/kvctl/typed_text.h"

namespace kvstore::kvctl {
namespace {

constexpr char kUsage[] =
    "usage: kvctl COMMAND [ARGS] [--help]\n"
    "\n"
    "Inspect and operate a kvstore store. Keys and values are shown as the typed values they are,\n"
    "decoded by the key and value types the store records (DefaultSerializer types; raw bytes in\n"
    "hex otherwise). Inspection commands open the store read-only: they take no lock, write\n"
    "nothing, and work while a program holds the store open (they see it as of their start).\n"
    "\n"
    "commands:\n"
    "  info DIR                      format, types, filter, tables, segments, WAL, properties\n"
    "  scan DIR [options]            keys and values in key order\n"
    "  get DIR KEY                   the value of one key\n"
    "  count DIR                     the number of live keys\n"
    "  verify DIR                    check every checksum (exit 1 if damaged)\n"
    "  compact DIR                   merge every segment into one (takes the store's lock)\n"
    "  repair DIR                    salvage a damaged store (takes the store's lock)\n"
    "  checkpoint DIR DEST           a consistent copy of the store in the new directory DEST\n"
    "  dump DIR                      every key and value as text, to standard output\n"
    "  load DIR FILE                 write the records of FILE (a dump, TSV or datagen binary)\n"
    "\n"
    "For a store written by kvstore::Database, scan, get, count, dump and load take --table NAME.\n"
    "`kvctl COMMAND --help` describes each command. Exit status: 0 ok, 1 error, 2 usage.\n";

constexpr char kKeySyntax[] =
    "Keys are written as the key type's text: -5, 2.5, true, \"text\" (a string key may also be\n"
    "given bare), (\"Oslo\", 2024) for a tuple or pair, 0x00ff for a store of raw bytes. In\n"
    "strings: \\\" \\\\ \\n \\r \\t \\0 \\xNN. Put -- before a key that starts with '-' and is\n"
    "not a number (kvctl get DIR -- -inf).\n";

struct CommandHelp {
  const char* name;
  const char* usage;
};

constexpr CommandHelp kHelp[] = {
    {"info",
     "usage: kvctl info DIR\n\n"
     "Prints the store's format version, key and value types in C++ spelling (from the type\n"
     "signature it records), filter, tables (for a Database store), segments with their sizes and\n"
     "key ranges by sorted run, the WAL's bytes, and every property. Opens read-only.\n"},
    {"scan",
     "usage: kvctl scan DIR [--from KEY] [--to KEY] [--prefix P] [--limit N] [--reverse]\n"
     "                      [--format text|json|tsv] [--table NAME]\n\n"
     "Prints keys and values in key order (descending with --reverse): keys >= --from and\n"
     "< --to, and starting with --prefix: the first elements of a tuple or pair key, as\n"
     "(\"Oslo\") or \"Oslo\", the start of a string key, or the first bytes of a bytes key.\n"
     "--limit stops after N keys. Formats: text (KEY -> VALUE), json (one array of\n"
     "{\"key\", \"value\"} objects), tsv (KEY<tab>VALUE, what dump writes). Opens read-only.\n\n"},
    {"get",
     "usage: kvctl get DIR KEY [--format text|json] [--table NAME]\n\n"
     "Prints the value of KEY; exit status 1 if the store holds none. Opens read-only.\n\n"},
    {"count",
     "usage: kvctl count DIR [--table NAME]\n\n"
     "Prints the number of live keys (of every table, one line each, for a Database store\n"
     "without --table). Opens read-only.\n"},
    {"verify",
     "usage: kvctl verify DIR\n\n"
     "Checks every checksum of the store: the MANIFEST, every live segment, every WAL still\n"
     "needed. Changes nothing and takes no lock. Exit status 1 names each damaged file.\n"},
    {"compact",
     "usage: kvctl compact DIR\n\n"
     "Opens the store for writing (it must not be open elsewhere) and merges every segment into\n"
     "one, dropping overwritten and deleted data.\n"},
    {"repair",
     "usage: kvctl repair DIR\n\n"
     "Rebuilds a damaged store from every record whose checksum holds (kvstore::Repair); the\n"
     "original files are moved into DIR/lost/. The store must not be open elsewhere. Prints\n"
     "what was kept and dropped, then checks that the repaired store opens.\n"},
    {"checkpoint",
     "usage: kvctl checkpoint DIR DEST\n\n"
     "Writes a consistent copy of the store, as of now, into DEST (which must not exist, or be\n"
     "empty): segments hard-linked where DEST is on the same file system, durable on return. It\n"
     "opens as a normal store. Opens DIR read-only, so it works while a program writes it.\n"},
    {"dump",
     "usage: kvctl dump DIR [--table NAME] > FILE\n\n"
     "Writes every key and value to standard output: a header line naming the types, then one\n"
     "KEY<tab>VALUE line per key in the text form (strings escaped, so one record per line).\n"
     "`kvctl load` reads it back. Opens read-only.\n"},
    {"load",
     "usage: kvctl load DIR FILE [--format dump|tsv|binary] [--table NAME]\n\n"
     "Writes every record of FILE into the store, creating it if missing (with the types the\n"
     "file names). Formats: dump (what kvctl dump writes; recognized by its header), tsv (raw\n"
     "KEY<tab>VALUE lines, as tools/datagen writes them) and binary (datagen's: fixed32 length,\n"
     "key, fixed32 length, value); tsv and binary are string keys and values. The file's types\n"
     "must be the store's (or the table's). Shows progress on standard error when it is a\n"
     "terminal. Takes the store's lock, and flushes the loaded records to a segment at the end.\n"},
};

constexpr char kDumpHeader[] = "# kvctl dump v1 types: ";

// ---- Arguments ----------------------------------------------------------------------------

struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> flags;  // "--reverse" holds "".
};

class UsageError {
 public:
  std::string message;
};

// Flags that take a value; the others (--reverse, --help) do not.
bool TakesValue(absl::string_view flag) {
  return flag == "--from" || flag == "--to" || flag == "--prefix" || flag == "--limit" ||
         flag == "--format" || flag == "--table";
}

absl::StatusOr<Args> ParseArgs(int argc, char** argv, int first,
                               const std::vector<std::string>& allowed) {
  Args args;
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") {
      for (++i; i < argc; ++i) args.positional.push_back(argv[i]);
      break;
    }
    // A negative number is a key, not a flag.
    if (absl::StartsWith(arg, "-") && arg.size() > 1 && !(arg[1] >= '0' && arg[1] <= '9')) {
      std::string value;
      bool has_value = false;
      if (const size_t eq = arg.find('='); eq != std::string::npos) {
        value = arg.substr(eq + 1);
        arg = arg.substr(0, eq);
        has_value = true;
      }
      if (arg != "--help" && arg != "-h" &&
          std::find(allowed.begin(), allowed.end(), arg) == allowed.end()) {
        return absl::InvalidArgumentError(absl::StrCat("unknown option ", arg));
      }
      if (TakesValue(arg) && !has_value) {
        if (i + 1 >= argc) return absl::InvalidArgumentError(absl::StrCat(arg, " needs a value"));
        value = argv[++i];
      } else if (!TakesValue(arg) && has_value) {
        return absl::InvalidArgumentError(absl::StrCat(arg, " takes no value"));
      }
      args.flags[arg == "-h" ? "--help" : arg] = value;
    } else {
      args.positional.push_back(arg);
    }
  }
  return args;
}

// Relative paths are relative to where `bazel run` was started, not to its runfiles.
std::string ResolvePath(std::string path) {
  if (const char* cwd = std::getenv("BUILD_WORKING_DIRECTORY");
      cwd != nullptr && !path.empty() && path[0] != '/') {
    return std::string(cwd) + "/" + path;
  }
  return path;
}

// ---- Opening ------------------------------------------------------------------------------

struct TableEntry {
  std::string name;
  uint32_t id = 0;
  std::string signature;
  StoreTypes types;
};

struct OpenedStore {
  std::string dir;
  internal::Manifest manifest;
  FilterOps ops;
  std::unique_ptr<RawStore> store;
  bool is_database = false;
  std::vector<TableEntry> tables;  // A Database store's tables, by name.
  // What keys and values are decoded as: the store's types, or the chosen table's.
  StoreTypes types;
  std::string signature;
  std::string lo, hi;  // The key range: a table's prefix and its successor ("" for all).
  const TableEntry* table = nullptr;
};

std::string TablePrefixBytes(uint32_t id) {
  std::string out;
  internal::SerializerBytes::AppendBigEndian<uint32_t>(id, &out);
  return out;
}

// The smallest string greater than every string starting with `prefix` ("" if there is none).
std::string PrefixEnd(std::string prefix) {
  while (!prefix.empty() && static_cast<uint8_t>(prefix.back()) == 0xff) prefix.pop_back();
  if (!prefix.empty()) prefix.back() = static_cast<char>(static_cast<uint8_t>(prefix.back()) + 1);
  return prefix;
}

absl::StatusOr<std::vector<TableEntry>> ReadCatalog(RawStore* store) {
  std::vector<TableEntry> tables;
  const std::string lo = TablePrefixBytes(internal::kCatalogTableId) + "T";
  const std::string hi = PrefixEnd(lo);
  auto source = store->NewSource();
  for (source->Seek(lo); source->Valid() && source->key() < hi; source->Next()) {
    if (source->kind() == internal::EntryKind::kDeletion) continue;
    const absl::string_view value = source->value();
    if (value.size() < 4) return absl::DataLossError("catalog entry too short");
    TableEntry& table = tables.emplace_back();
    table.name = std::string(source->key().substr(lo.size()));
    table.id = internal::SerializerBytes::ReadBigEndian<uint32_t>(value.data());
    table.signature = std::string(value.substr(4));
    table.types = ParseStoreSignature(table.signature);
  }
  KV_RETURN_IF_ERROR(source->status());
  return tables;
}

std::string TableNames(const std::vector<TableEntry>& tables) {
  std::vector<std::string> names;
  for (const auto& t : tables) names.push_back(t.name);
  return names.empty() ? "none" : absl::StrJoin(names, ", ");
}

enum class TableNeed { kNone, kOptional, kRequired };

absl::StatusOr<OpenedStore> OpenStore(const std::string& dir, bool read_only,
                                      const std::optional<std::string>& table_name,
                                      TableNeed need) {
  OpenedStore opened;
  opened.dir = dir;
  Env* env = Env::Default();
  if (!env->FileExists(internal::ManifestFileName(dir))) {
    return absl::NotFoundError(absl::StrCat("no kvstore store at ", dir, " (no MANIFEST)"));
  }
  KV_RETURN_IF_ERROR(internal::ReadManifest(env, dir, &opened.manifest));
  KV_ASSIGN_OR_RETURN(opened.ops, OpsForFilter(opened.manifest.filter_name));
  Options options;
  options.read_only = read_only;
  options.create_if_missing = false;
  KV_ASSIGN_OR_RETURN(opened.store, opened.ops.open(dir, options, ""));
  opened.is_database = opened.manifest.type_signature == internal::kDatabaseTypeSignature;
  opened.signature = opened.manifest.type_signature;
  opened.types = ParseStoreSignature(opened.signature);
  if (!opened.is_database) {
    if (table_name.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat(dir, " is not a Database store (its types are ", CppTypeName(opened.types),
                       "); --table applies only to stores written by kvstore::Database"));
    }
    return opened;
  }
  KV_ASSIGN_OR_RETURN(opened.tables, ReadCatalog(opened.store.get()));
  if (!table_name.has_value()) {
    if (need == TableNeed::kRequired) {
      return absl::InvalidArgumentError(absl::StrCat(
          dir, " is a Database store: pass --table NAME (tables: ", TableNames(opened.tables),
          ")"));
    }
    return opened;
  }
  for (const TableEntry& table : opened.tables) {
    if (table.name != *table_name) continue;
    opened.table = &table;
    opened.types = table.types;
    opened.signature = table.signature;
    opened.lo = TablePrefixBytes(table.id);
    opened.hi = PrefixEnd(opened.lo);
    return opened;
  }
  return absl::NotFoundError(absl::StrCat("no table \"", *table_name, "\" in ", dir,
                                          " (tables: ", TableNames(opened.tables), ")"));
}

// A stored key as text: decoded by the store's types (for a Database store, by its table's,
// with the table's name in front); hex when it does not decode.
std::string DescribeStoredKey(const OpenedStore& opened, absl::string_view key) {
  std::string out;
  if (opened.is_database && key.size() >= 4) {
    const uint32_t id = internal::SerializerBytes::ReadBigEndian<uint32_t>(key.data());
    for (const TableEntry& table : opened.tables) {
      if (table.id != id) continue;
      out = table.name + ": ";
      if (FormatEncoded(table.types.key, Role::kKey, key.substr(4), Format::kText, &out).ok()) {
        return out;
      }
    }
    out = id == internal::kCatalogTableId ? "catalog: " : absl::StrCat("table #", id, ": ");
    return out + "0x" + Hex(key.substr(4));
  }
  if (FormatEncoded(opened.types.key, Role::kKey, key, Format::kText, &out).ok()) return out;
  return "0x" + Hex(key);
}

// ---- Commands -----------------------------------------------------------------------------

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "kvctl: %s\n", std::string(s.message()).c_str());
  return 1;
}

// The property names KVStore::GetProperty documents (the multi-line kvstore.segments aside).
constexpr const char* kProperties[] = {
    "kvstore.num-entries",
    "kvstore.num-segments",
    "kvstore.num-runs",
    "kvstore.total-bytes",
    "kvstore.segment-bytes",
    "kvstore.memtable-bytes",
    "kvstore.index-filter-bytes",
    "kvstore.last-sequence",
    "kvstore.live-snapshots",
    "kvstore.user-bytes-written",
    "kvstore.flush-bytes-written",
    "kvstore.compaction-bytes-written",
    "kvstore.compaction-bytes-read",
    "kvstore.write-amplification",
    "kvstore.flushes",
    "kvstore.compactions",
    "kvstore.compactions-between-steps",
    "kvstore.filter-negatives",
    "kvstore.segment-reads",
    "kvstore.write-slowdowns",
    "kvstore.write-stops",
    "kvstore.wal-records",
    "kvstore.wal-tail-bytes-dropped",
};

int Info(const Args& args) {
  const std::string dir = ResolvePath(args.positional[0]);
  auto opened = OpenStore(dir, /*read_only=*/true, std::nullopt, TableNeed::kOptional);
  if (!opened.ok()) return Fail(opened.status());
  const internal::Manifest& m = opened->manifest;
  std::printf("store:          %s\n", dir.c_str());
  std::printf("format version: %u\n", m.format_version);
  if (opened->is_database) {
    std::printf("types:          kvstore::Database (signature \"%s\")\n", m.type_signature.c_str());
  } else {
    std::printf("types:          %s (signature \"%s\")\n", CppTypeName(opened->types).c_str(),
                m.type_signature.c_str());
  }
  std::printf("filter:         %s\n", m.filter_name.c_str());
  if (opened->is_database) {
    std::printf("tables:         %zu\n", opened->tables.size());
    for (const TableEntry& t : opened->tables) {
      std::printf("  %s (id %u): %s (signature \"%s\")\n", t.name.c_str(), t.id,
                  CppTypeName(t.types).c_str(), t.signature.c_str());
    }
  }
  const std::vector<SegmentSummary> segments = opened->ops.segments(dir, m);
  uint64_t segment_bytes = 0;
  for (const auto& s : segments) segment_bytes += s.bytes;
  std::printf("segments:       %zu in %zu sorted runs, %llu bytes\n", segments.size(),
              m.runs.size(), static_cast<unsigned long long>(segment_bytes));
  for (const auto& s : segments) {
    const std::string name = absl::StrFormat("%06d.seg", s.number);
    if (!s.status.ok()) {
      std::printf("  run %zu: %s  unreadable: %s\n", s.run, name.c_str(),
                  std::string(s.status.message()).c_str());
      continue;
    }
    std::printf("  run %zu: %s  %llu bytes  %llu entries  keys %s .. %s%s\n", s.run, name.c_str(),
                static_cast<unsigned long long>(s.bytes),
                static_cast<unsigned long long>(s.entries),
                DescribeStoredKey(*opened, s.smallest_key).c_str(),
                DescribeStoredKey(*opened, s.largest_key).c_str(),
                s.clipped ? "  (clipped: a compaction in progress merged the keys before)" : "");
  }
  Env* env = Env::Default();
  uint64_t wal_bytes = 0;
  std::vector<std::string> wal_names;
  if (auto children = env->GetChildren(dir); children.ok()) {
    std::sort(children->begin(), children->end());
    for (const std::string& name : *children) {
      uint64_t number = 0;
      if (internal::ParseFileName(name, &number) != internal::FileKind::kWal ||
          number < m.log_number) {
        continue;
      }
      if (auto size = env->GetFileSize(dir + "/" + name); size.ok()) wal_bytes += *size;
      wal_names.push_back(name);
    }
  }
  std::printf("wal:            %llu bytes in %zu files%s%s\n",
              static_cast<unsigned long long>(wal_bytes), wal_names.size(),
              wal_names.empty() ? "" : ": ", absl::StrJoin(wal_names, ", ").c_str());
  std::printf("properties:\n");
  for (const char* name : kProperties) {
    if (auto value = opened->store->GetProperty(name); value.has_value()) {
      std::printf("  %-34s %s\n", name, value->c_str());
    }
  }
  return opened->store->Close().ok() ? 0 : 1;
}

absl::StatusOr<Format> ParseFormat(const Args& args, bool allow_tsv) {
  auto it = args.flags.find("--format");
  if (it == args.flags.end() || it->second == "text") return Format::kText;
  if (it->second == "json") return Format::kJson;
  if (it->second == "tsv" && allow_tsv) return Format::kText;
  return absl::InvalidArgumentError(
      absl::StrCat("--format ", it->second, " is not one of text, json", allow_tsv ? ", tsv" : ""));
}

std::optional<std::string> Flag(const Args& args, const std::string& name) {
  auto it = args.flags.find(name);
  if (it == args.flags.end()) return std::nullopt;
  return it->second;
}

// Calls emit(key, value) for every live key of the store (or table) in [lo, hi) of the
// user-visible key bytes, ascending or descending, until emit returns false.
template <typename Emit>
absl::Status ForEachEntry(OpenedStore& opened, const std::string& user_lo,
                          const std::optional<std::string>& user_hi, bool reverse, Emit&& emit) {
  const std::string lo = opened.lo + user_lo;
  std::optional<std::string> full_hi;
  if (user_hi.has_value()) {
    full_hi = opened.lo + *user_hi;
  } else if (!opened.hi.empty()) {
    full_hi = opened.hi;
  }
  const bool bounded = full_hi.has_value();
  const std::string hi = full_hi.value_or("");
  auto source = opened.store->NewSource();
  const size_t strip = opened.lo.size();
  if (!reverse) {
    source->Seek(lo);
    for (; source->Valid() && (!bounded || source->key() < hi); source->Next()) {
      if (source->kind() == internal::EntryKind::kDeletion) continue;
      if (!emit(source->key().substr(strip), source->value())) break;
    }
  } else {
    if (bounded) {
      source->SeekBefore(hi);
    } else {
      source->SeekToLast();
    }
    for (; source->Valid() && source->key() >= lo; source->Prev()) {
      if (source->kind() == internal::EntryKind::kDeletion) continue;
      if (!emit(source->key().substr(strip), source->value())) break;
    }
  }
  return source->status();
}

int Scan(const Args& args) {
  auto format = ParseFormat(args, /*allow_tsv=*/true);
  if (!format.ok()) return Fail(format.status());
  const bool tsv = Flag(args, "--format") == "tsv";
  uint64_t limit = UINT64_MAX;
  if (auto l = Flag(args, "--limit"); l.has_value() && !absl::SimpleAtoi(*l, &limit)) {
    return Fail(absl::InvalidArgumentError(absl::StrCat("--limit ", *l, " is not a count")));
  }
  const std::string dir = ResolvePath(args.positional[0]);
  auto opened = OpenStore(dir, true, Flag(args, "--table"), TableNeed::kRequired);
  if (!opened.ok()) return Fail(opened.status());
  const TypeDesc& key_type = opened->types.key;
  std::string lo;
  std::optional<std::string> hi;
  if (auto from = Flag(args, "--from")) {
    if (absl::Status s = ParseText(key_type, Role::kKey, *from, &lo); !s.ok()) {
      return Fail(absl::InvalidArgumentError(absl::StrCat("--from: ", s.message())));
    }
  }
  if (auto to = Flag(args, "--to")) {
    std::string bytes;
    if (absl::Status s = ParseText(key_type, Role::kKey, *to, &bytes); !s.ok()) {
      return Fail(absl::InvalidArgumentError(absl::StrCat("--to: ", s.message())));
    }
    hi = bytes;
  }
  if (auto prefix = Flag(args, "--prefix")) {
    std::string bytes;
    if (absl::Status s = ParseKeyPrefix(key_type, *prefix, &bytes); !s.ok()) {
      return Fail(absl::InvalidArgumentError(absl::StrCat("--prefix: ", s.message())));
    }
    lo = std::max(lo, bytes);
    const std::string end = PrefixEnd(bytes);
    if (!end.empty() && (!hi.has_value() || end < *hi)) hi = end;
  }
  if (hi.has_value() && *hi < lo) hi = lo;  // An empty range.

  const bool json = *format == Format::kJson;
  uint64_t n = 0;
  absl::Status decode_error;
  std::string line;
  if (json) std::fputs("[", stdout);
  absl::Status s = ForEachEntry(
      *opened, lo, hi, Flag(args, "--reverse").has_value(),
      [&](absl::string_view key, absl::string_view value) {
        if (n >= limit) return false;
        line.clear();
        std::string k, v;
        absl::Status ks = FormatEncoded(opened->types.key, Role::kKey, key, *format, &k);
        absl::Status vs = FormatEncoded(opened->types.value, Role::kValue, value, *format, &v);
        if (!ks.ok() || !vs.ok()) {  // Shown as bytes; reported at the end.
          if (decode_error.ok()) decode_error = ks.ok() ? vs : ks;
          k.clear();
          v.clear();
          FormatEncoded(TypeDesc::Bytes(), Role::kKey, key, *format, &k).IgnoreError();
          FormatEncoded(TypeDesc::Bytes(), Role::kValue, value, *format, &v).IgnoreError();
        }
        if (json) {
          absl::StrAppend(&line, n == 0 ? "\n  " : ",\n  ", "{\"key\": ", k, ", \"value\": ", v,
                          "}");
        } else {
          absl::StrAppend(&line, k, tsv ? "\t" : " -> ", v, "\n");
        }
        std::fwrite(line.data(), 1, line.size(), stdout);
        ++n;
        return true;
      });
  if (json) std::fputs(n == 0 ? "]\n" : "\n]\n", stdout);
  if (!s.ok()) return Fail(s);
  if (!decode_error.ok()) return Fail(decode_error);
  return opened->store->Close().ok() ? 0 : 1;
}

int Get(const Args& args) {
  auto format = ParseFormat(args, /*allow_tsv=*/false);
  if (!format.ok()) return Fail(format.status());
  const std::string dir = ResolvePath(args.positional[0]);
  auto opened = OpenStore(dir, true, Flag(args, "--table"), TableNeed::kRequired);
  if (!opened.ok()) return Fail(opened.status());
  std::string key;
  if (absl::Status s = ParseText(opened->types.key, Role::kKey, args.positional[1], &key);
      !s.ok()) {
    return Fail(s);
  }
  std::string value;
  absl::Status s = opened->store->Get(opened->lo + key, &value);
  if (absl::IsNotFound(s)) {
    return Fail(absl::NotFoundError(absl::StrCat("key ", args.positional[1], " not found")));
  }
  if (!s.ok()) return Fail(s);
  std::string text;
  s = FormatEncoded(opened->types.value, Role::kValue, value, *format, &text);
  if (!s.ok()) return Fail(s);
  std::printf("%s\n", text.c_str());
  return opened->store->Close().ok() ? 0 : 1;
}

int Count(const Args& args) {
  const std::string dir = ResolvePath(args.positional[0]);
  auto opened = OpenStore(dir, true, Flag(args, "--table"), TableNeed::kOptional);
  if (!opened.ok()) return Fail(opened.status());
  if (opened->is_database && opened->table == nullptr) {
    uint64_t total = 0;
    for (const TableEntry& table : opened->tables) {
      opened->lo = TablePrefixBytes(table.id);
      opened->hi = PrefixEnd(opened->lo);
      uint64_t n = 0;
      absl::Status s =
          ForEachEntry(*opened, "", std::nullopt, false,
                       [&](absl::string_view, absl::string_view) { return ++n, true; });
      if (!s.ok()) return Fail(s);
      std::printf("%s\t%llu\n", table.name.c_str(), static_cast<unsigned long long>(n));
      total += n;
    }
    std::printf("total\t%llu\n", static_cast<unsigned long long>(total));
    return opened->store->Close().ok() ? 0 : 1;
  }
  uint64_t n = 0;
  absl::Status s = ForEachEntry(*opened, "", std::nullopt, false,
                                [&](absl::string_view, absl::string_view) { return ++n, true; });
  if (!s.ok()) return Fail(s);
  std::printf("%llu\n", static_cast<unsigned long long>(n));
  return opened->store->Close().ok() ? 0 : 1;
}

int Verify(const Args& args) {
  const std::string dir = ResolvePath(args.positional[0]);
  Env* env = Env::Default();
  internal::Manifest manifest;
  absl::Status s;
  // A program writing the store may replace the manifest and delete files during the check: a
  // failure is checked again from the new manifest.
  for (int attempt = 0; attempt < 3; ++attempt) {
    s = internal::ReadManifest(env, dir, &manifest);
    if (!s.ok()) break;
    auto ops = OpsForFilter(manifest.filter_name);
    if (!ops.ok()) return Fail(ops.status());
    s = ops->verify(dir);
    if (s.ok()) break;
    // Also a WAL being appended to can show, for a moment, a record's later bytes before its
    // earlier ones; damage on disk stays, so only what persists is reported.
    std::this_thread::sleep_for(std::chrono::milliseconds(10 * (attempt + 1)));
  }
  if (!s.ok()) {
    std::fprintf(stderr, "%s: damaged or unreadable\n", dir.c_str());
    for (absl::string_view problem : absl::StrSplit(s.message(), "; ")) {
      std::fprintf(stderr, "  %.*s\n", static_cast<int>(problem.size()), problem.data());
    }
    return 1;
  }
  std::printf("%s: intact (%zu segments in %zu sorted runs, types \"%s\", filter \"%s\")\n",
              dir.c_str(), manifest.SegmentNumbers().size(), manifest.runs.size(),
              manifest.type_signature.c_str(), manifest.filter_name.c_str());
  return 0;
}

int Compact(const Args& args) {
  const std::string dir = ResolvePath(args.positional[0]);
  auto opened = OpenStore(dir, /*read_only=*/false, std::nullopt, TableNeed::kNone);
  if (!opened.ok()) return Fail(opened.status());
  auto describe = [&] {
    return absl::StrCat(opened->store->GetProperty("kvstore.num-segments").value_or("?"),
                        " segments, ",
                        opened->store->GetProperty("kvstore.total-bytes").value_or("?"), " bytes");
  };
  const std::string before = describe();
  if (absl::Status s = opened->store->Compact(); !s.ok()) return Fail(s);
  std::printf("%s: compacted: %s -> %s\n", dir.c_str(), before.c_str(), describe().c_str());
  if (absl::Status s = opened->store->Close(); !s.ok()) return Fail(s);
  return 0;
}

int RepairCommand(const Args& args) {
  const std::string dir = ResolvePath(args.positional[0]);
  // The filter comes from the manifest; without a readable one, the default filter is assumed
  // (Repair checks it against the segments' own records of their filter).
  internal::Manifest manifest;
  std::string filter(DefaultFilterName());
  if (internal::ReadManifest(Env::Default(), dir, &manifest).ok()) filter = manifest.filter_name;
  auto ops = OpsForFilter(filter);
  if (!ops.ok()) return Fail(ops.status());
  absl::StatusOr<RepairReport> report = ops->repair(dir);
  if (!report.ok()) {
    return Fail(absl::Status(report.status().code(),
                             absl::StrCat(dir, ": repair failed: ", report.status().message())));
  }
  std::fputs(report->ToString().c_str(), stdout);
  Options options;
  options.create_if_missing = false;
  auto store = ops->open(dir, options, "");
  absl::Status s = store.ok() ? (*store)->Close() : store.status();
  if (!s.ok()) {
    return Fail(absl::Status(
        s.code(), absl::StrCat(dir, ": the repaired store does not open: ", s.message())));
  }
  std::printf("%s: repaired; the store opens\n", dir.c_str());
  return 0;
}

int CheckpointCommand(const Args& args) {
  const std::string dir = ResolvePath(args.positional[0]);
  const std::string dest = ResolvePath(args.positional[1]);
  auto opened = OpenStore(dir, /*read_only=*/true, std::nullopt, TableNeed::kNone);
  if (!opened.ok()) return Fail(opened.status());
  if (absl::Status s = opened->store->Checkpoint(dest); !s.ok()) return Fail(s);
  std::printf("%s: checkpoint written to %s (%s segments, %s entries)\n", dir.c_str(), dest.c_str(),
              opened->store->GetProperty("kvstore.num-segments").value_or("?").c_str(),
              opened->store->GetProperty("kvstore.num-entries").value_or("?").c_str());
  return opened->store->Close().ok() ? 0 : 1;
}

int Dump(const Args& args) {
  const std::string dir = ResolvePath(args.positional[0]);
  auto opened = OpenStore(dir, true, Flag(args, "--table"), TableNeed::kRequired);
  if (!opened.ok()) return Fail(opened.status());
  // Bytes the types do not describe are dumped as bytes, and loaded back as bytes.
  const std::string signature = opened->types.described ? opened->signature : "";
  std::printf("%s%s\n", kDumpHeader, signature.c_str());
  absl::Status decode_error;
  std::string line;
  absl::Status s = ForEachEntry(
      *opened, "", std::nullopt, false, [&](absl::string_view key, absl::string_view value) {
        line.clear();
        decode_error = FormatEncoded(opened->types.key, Role::kKey, key, Format::kText, &line);
        line.push_back('\t');
        if (decode_error.ok()) {
          decode_error =
              FormatEncoded(opened->types.value, Role::kValue, value, Format::kText, &line);
        }
        line.push_back('\n');
        std::fwrite(line.data(), 1, line.size(), stdout);
        return decode_error.ok();
      });
  if (!s.ok()) return Fail(s);
  if (!decode_error.ok()) return Fail(decode_error);
  if (std::fflush(stdout) != 0) return Fail(absl::DataLossError("cannot write standard output"));
  return opened->store->Close().ok() ? 0 : 1;
}

// Reads records of one of load's formats, one at a time.
class RecordReader {
 public:
  enum class Kind { kDump, kTsv, kBinary };

  static absl::StatusOr<std::unique_ptr<RecordReader>> Open(const std::string& path,
                                                            std::optional<std::string> format) {
    auto reader = std::unique_ptr<RecordReader>(new RecordReader);
    reader->path_ = path;
    reader->in_.open(path, std::ios::binary);
    if (!reader->in_) return absl::NotFoundError(absl::StrCat("cannot open ", path));
    reader->in_.seekg(0, std::ios::end);
    reader->size_ = static_cast<uint64_t>(reader->in_.tellg());
    reader->in_.seekg(0);
    std::string first;
    std::getline(reader->in_, first);
    const bool has_header = absl::StartsWith(first, kDumpHeader);
    if (!format.has_value()) {
      if (!has_header) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, " is not a kvctl dump (no \"", kDumpHeader,
                         "...\" header); pass --format tsv or --format binary"));
      }
      format = "dump";
    }
    if (*format == "dump") {
      if (!has_header) return absl::InvalidArgumentError(absl::StrCat(path, " has no dump header"));
      reader->kind_ = Kind::kDump;
      reader->signature_ = first.substr(sizeof(kDumpHeader) - 1);
      reader->line_ = 1;
      return reader;
    }
    reader->in_.seekg(0);
    reader->signature_ = "str->str";
    if (*format == "tsv") {
      reader->kind_ = Kind::kTsv;
    } else if (*format == "binary") {
      reader->kind_ = Kind::kBinary;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("--format ", *format, " is not one of dump, tsv, binary"));
    }
    return reader;
  }

  Kind kind() const { return kind_; }
  const std::string& signature() const { return signature_; }
  uint64_t size() const { return size_; }
  uint64_t position() { return in_.eof() ? size_ : static_cast<uint64_t>(in_.tellg()); }

  // Sets *key and *value to the next record's text (dump) or bytes; false at the end.
  absl::StatusOr<bool> Next(std::string* key, std::string* value) {
    if (kind_ == Kind::kBinary) {
      char header[4];
      if (!in_.read(header, 4)) {
        if (in_.gcount() == 0) return false;
        return Truncated();
      }
      if (!ReadBytes(internal::DecodeFixed32(header), key) || !in_.read(header, 4) ||
          !ReadBytes(internal::DecodeFixed32(header), value)) {
        return Truncated();
      }
      return true;
    }
    std::string line;
    if (!std::getline(in_, line)) return false;
    ++line_;
    const size_t tab = line.find('\t');
    if (tab == std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(path_, ":", line_, ": no tab between key and value"));
    }
    *key = line.substr(0, tab);
    *value = line.substr(tab + 1);
    return true;
  }

  std::string Where() const { return absl::StrCat(path_, ":", line_); }

 private:
  bool ReadBytes(uint32_t n, std::string* out) {
    out->resize(n);
    return n == 0 || static_cast<bool>(in_.read(out->data(), n));
  }
  absl::Status Truncated() const {
    return absl::DataLossError(absl::StrCat(path_, ": truncated binary record"));
  }

  std::string path_;
  std::ifstream in_;
  uint64_t size_ = 0;
  uint64_t line_ = 0;
  Kind kind_ = Kind::kDump;
  std::string signature_;
};

void ShowProgress(uint64_t done, uint64_t total, uint64_t records) {
  const int width = 30;
  const double fraction = total == 0 ? 1.0 : std::min(1.0, static_cast<double>(done) / total);
  const int filled = static_cast<int>(fraction * width);
  std::fprintf(stderr, "\r[%s%s] %3d%% %llu records", std::string(filled, '#').c_str(),
               std::string(width - filled, ' ').c_str(), static_cast<int>(fraction * 100),
               static_cast<unsigned long long>(records));
}

int Load(const Args& args) {
  const std::string dir = ResolvePath(args.positional[0]);
  const std::string file = ResolvePath(args.positional[1]);
  auto reader = RecordReader::Open(file, Flag(args, "--format"));
  if (!reader.ok()) return Fail(reader.status());
  const StoreTypes file_types = ParseStoreSignature((*reader)->signature());
  OpenedStore opened;
  Env* env = Env::Default();
  if (env->FileExists(internal::ManifestFileName(dir))) {
    auto existing =
        OpenStore(dir, /*read_only=*/false, Flag(args, "--table"), TableNeed::kRequired);
    if (!existing.ok()) return Fail(existing.status());
    opened = *std::move(existing);
    if (!(file_types.described
              ? opened.types.described && opened.signature == (*reader)->signature()
              : !opened.types.described)) {
      return Fail(absl::FailedPreconditionError(
          absl::StrCat(file, " holds ", CppTypeName(file_types), " but ", dir,
                       Flag(args, "--table").has_value() ? " (the table)" : "", " holds ",
                       CppTypeName(opened.types))));
    }
  } else {
    if (Flag(args, "--table").has_value()) {
      return Fail(absl::NotFoundError(absl::StrCat("no store at ", dir, " to load a table into")));
    }
    auto ops = OpsForFilter(DefaultFilterName());
    if (!ops.ok()) return Fail(ops.status());
    Options options;
    options.create_if_missing = true;
    auto store = ops->open(dir, options, (*reader)->signature());
    if (!store.ok()) return Fail(store.status());
    opened.dir = dir;
    opened.ops = *ops;
    opened.store = *std::move(store);
    opened.types = file_types;
  }

  const bool progress = ::isatty(STDERR_FILENO) == 1;
  const bool typed = (*reader)->kind() == RecordReader::Kind::kDump;
  internal::BatchRep batch;
  uint64_t records = 0;
  std::string key_text, value_text, key, value;
  absl::Status s;
  for (;;) {
    absl::StatusOr<bool> more = (*reader)->Next(&key_text, &value_text);
    if (!more.ok()) {
      s = more.status();
      break;
    }
    if (*more) {
      key.assign(opened.lo);
      value.clear();
      if (typed) {
        s = ParseText(opened.types.key, Role::kKey, key_text, &key);
        if (s.ok()) s = ParseText(opened.types.value, Role::kValue, value_text, &value);
        if (!s.ok()) {
          s = absl::InvalidArgumentError(absl::StrCat((*reader)->Where(), ": ", s.message()));
          break;
        }
      } else {
        key.append(key_text);
        value = value_text;
      }
      if (key.size() - opened.lo.size() > kMaxKeyBytes || value.size() > kMaxValueBytes) {
        s = absl::InvalidArgumentError(absl::StrCat("record ", records + 1, " is too large"));
        break;
      }
      batch.Put(key, value);
      ++records;
    }
    if (batch.count() >= 1000 || batch.ApproximateBytes() >= (1 << 20) ||
        (!*more && !batch.empty())) {
      s = opened.store->Write(&batch);
      batch.Clear();
      if (!s.ok()) break;
      if (progress) ShowProgress((*reader)->position(), (*reader)->size(), records);
    }
    if (!*more) break;
  }
  if (progress) std::fputs("\n", stderr);
  // A bulk load ends in a segment rather than in a WAL that the next open would replay.
  if (s.ok()) s = opened.store->Flush();
  absl::Status closed = opened.store->Close();
  if (!s.ok()) return Fail(s);
  if (!closed.ok()) return Fail(closed);
  std::printf("%s: loaded %llu records from %s\n", dir.c_str(),
              static_cast<unsigned long long>(records), file.c_str());
  return 0;
}

struct Command {
  const char* name;
  int positional;  // How many positional arguments it takes.
  std::vector<std::string> flags;
  int (*run)(const Args&);
};

const std::vector<Command>& Commands() {
  static const auto* commands = new std::vector<Command>{
      {"info", 1, {}, Info},
      {"scan",
       1,
       {"--from", "--to", "--prefix", "--limit", "--reverse", "--format", "--table"},
       Scan},
      {"get", 2, {"--format", "--table"}, Get},
      {"count", 1, {"--table"}, Count},
      {"verify", 1, {}, Verify},
      {"compact", 1, {}, Compact},
      {"repair", 1, {}, RepairCommand},
      {"checkpoint", 2, {}, CheckpointCommand},
      {"dump", 1, {"--table"}, Dump},
      {"load", 2, {"--format", "--table"}, Load},
  };
  return *commands;
}

const char* HelpFor(absl::string_view name) {
  for (const CommandHelp& help : kHelp) {
    if (name == help.name) return help.usage;
  }
  return kUsage;
}

int Main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  const std::string name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  for (const Command& command : Commands()) {
    if (name != command.name) continue;
    const bool takes_keys = name == "scan" || name == "get";
    auto usage = [&](const std::string& problem) {
      std::fprintf(stderr, "kvctl %s: %s\n\n%s", command.name, problem.c_str(), HelpFor(name));
      return 2;
    };
    absl::StatusOr<Args> args = ParseArgs(argc, argv, 2, command.flags);
    if (!args.ok()) return usage(std::string(args.status().message()));
    if (args->flags.count("--help") != 0) {
      std::fputs(HelpFor(name), stdout);
      if (takes_keys) std::fputs(kKeySyntax, stdout);
      return 0;
    }
    if (static_cast<int>(args->positional.size()) != command.positional) {
      return usage(absl::StrCat("expected ", command.positional, " argument",
                                command.positional == 1 ? "" : "s", ", got ",
                                args->positional.size()));
    }
    return command.run(*args);
  }
  std::fprintf(stderr, "kvctl: unknown command \"%s\"\n\n%s", name.c_str(), kUsage);
  return 2;
}

}  // namespace
}  // namespace kvstore::kvctl

int main(int argc, char** argv) { return kvstore::kvctl::Main(argc, argv); }
