#include "client/src/object_handle.h"

#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "client/src/call.h"
#include "client/src/client_session.h"
#include "client/src/methods.h"
#include "shoal/errors.h"

namespace shoal::detail {
namespace {

// The deleter's type tags the control blocks of handles, so that an owner of
// unknown origin (ObjectRef::owner is a shared_ptr<void>) can be recognized
// with std::get_deleter without guessing at what it points to.
struct HandleDeleter {
  void operator()(ObjectHandle* handle) const { delete handle; }
};

constexpr Kind kAllKinds[] = {
    Kind::kList,    Kind::kDict,      Kind::kNamespace,        Kind::kValue,     Kind::kLock,
    Kind::kRLock,   Kind::kSemaphore, Kind::kBoundedSemaphore, Kind::kCondition, Kind::kEvent,
    Kind::kBarrier, Kind::kQueue,     Kind::kJoinableQueue,    Kind::kConnection,
    Kind::kPipe,    Kind::kArray,
};

}  // namespace

ObjectHandle::~ObjectHandle() {
  // An inherited handle's reference is its parent's; this process's own
  // goes with successor_.
  if (!session_->inherited()) session_->Release(id_);
}

std::shared_ptr<ObjectHandle> ObjectHandle::ForThisProcess(
    const std::shared_ptr<ObjectHandle>& handle) {
  if (!handle->session_->inherited()) return handle;
  return handle->successor_.Get([&handle] {
    ClientSession& session = handle->session_->ForThisProcess();
    v1::LookupRequest request;
    request.set_id(handle->id_);
    std::shared_ptr<ObjectHandle> own;
    try {
      own = Start(session, nullptr, method::Manager::Lookup, request, KeepAlive(),
                  [](ClientSession& session, v1::LookupReply& reply) {
                    return session.AdoptRef(reply.ref());
                  })
                .get();
    } catch (const KeyError& e) {
      throw KeyError(absl::StrCat(FormatToken(handle->kind_, handle->id_),
                                  ", inherited from the parent process, no longer exists: ",
                                  e.what()));
    }
    return own;
  });
}

std::shared_ptr<ObjectHandle> NewHandle(std::shared_ptr<ClientSession> session, uint64_t id,
                                        Kind kind) {
  return std::shared_ptr<ObjectHandle>(new ObjectHandle(std::move(session), id, kind),
                                       HandleDeleter());
}

std::shared_ptr<ObjectHandle> OwningHandle(const ObjectRef& ref) {
  if (ref.owner == nullptr || std::get_deleter<HandleDeleter>(ref.owner) == nullptr) {
    return nullptr;
  }
  auto handle = std::static_pointer_cast<ObjectHandle>(ref.owner);
  if (handle->id() != ref.id) return nullptr;
  return handle;
}

std::string FormatToken(Kind kind, uint64_t id) { return absl::StrCat(KindName(kind), ":", id); }

void ParseToken(const std::string& token, Kind* kind, uint64_t* id) {
  const size_t colon = token.rfind(':');
  if (colon == std::string::npos) {
    throw ValueError("malformed token '" + token + "': expected kind:id, such as list:42");
  }
  const std::string name = token.substr(0, colon);
  uint64_t parsed_id = 0;
  if (!absl::SimpleAtoi(token.substr(colon + 1), &parsed_id) || parsed_id == 0) {
    throw ValueError("malformed token '" + token + "': the id is not a positive number");
  }
  for (Kind candidate : kAllKinds) {
    if (name == KindName(candidate)) {
      *kind = candidate;
      *id = parsed_id;
      return;
    }
  }
  throw ValueError("malformed token '" + token + "': no object kind is called '" + name + "'");
}

}  // namespace shoal::detail
