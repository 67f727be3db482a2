// Publish/subscribe permissions of an authenticated user, checked on PUB and SUB (and, for
// subscriptions that a deny pattern only partly covers, on delivery), as the reference does.
#pragma once

#include <string_view>

#include "pylon/options.h"

namespace pylon::server {

// True when pattern `outer` matches every subject that pattern `inner` matches
// ("foo.>" covers "foo.*.bar"; "foo.*" does not cover "foo.>"; literals cover themselves).
bool pattern_covers(std::string_view outer, std::string_view inner) noexcept;

// May this user publish to the literal subject?
bool can_publish(const Permissions& p, std::string_view subject) noexcept;
// May this user subscribe to the (possibly wildcard) subject?
bool can_subscribe(const Permissions& p, std::string_view subject) noexcept;
// For delivery: is the literal subject denied to this user's subscriptions?
bool subscribe_denied(const Permissions& p, std::string_view subject) noexcept;

}  // namespace pylon::server
