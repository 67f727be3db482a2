// The load-time checks of accounts' exports and imports, as the reference's parseAccounts runs
// them once every account is defined: the accounts named exist, each import is authorized by
// an export of the exporting account, stream prefixes are literal, and no import closes a
// cycle (accounts.go: checkStreamImportsForCycles, checkServiceImportsForCycles). Imports are
// taken in order, each checked against those before it, as the reference adds them.
//
// Pure functions over the options: the config loader maps a problem to its file:line:column,
// and a reload runs the same checks on the new options.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pylon/options.h"

namespace pylon::server {

// Do two subject patterns have a subject in common? (the reference's SubjectsCollide)
bool subjects_collide(std::string_view a, std::string_view b) noexcept;

// The local subject a stream import delivers on (`to`, or `prefix.` + subject, or subject).
std::string stream_import_subject(const AccountImport& im);

struct ImportsProblem {
  size_t account = 0;     // index into the accounts vector
  bool in_export = false; // false: in an import
  size_t index = 0;       // index into that account's exports or imports
  std::string message;    // in the reference's words
};

// The first problem, or nothing when the accounts' exports and imports are consistent.
std::optional<ImportsProblem> check_imports(const std::vector<AccountConfig>& accounts);

}  // namespace pylon::server
