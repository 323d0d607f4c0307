#include "client/src/object_handle.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "client/src/call.h"
#include "client/src/client_session.h"
#include "client/src/methods.h"
#include "client/src/token.h"
#include "shared/incarnation.h"
#include "shoal/errors.h"

namespace shoal::detail {
namespace {

// The deleter's type tags the control blocks of handles, so that an owner of
// unknown origin (ObjectRef::owner is a shared_ptr<void>) can be recognized
// with std::get_deleter without guessing at what it points to.
struct HandleDeleter {
  void operator()(ObjectHandle* handle) const { delete handle; }
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
    // The id is the parent's server's: a server that started again since
    // refuses it rather than give whatever object has the id now.
    const uint64_t incarnation = handle->session_->incarnation();
    request.set_incarnation(FormatIncarnation(incarnation));
    std::shared_ptr<ObjectHandle> own;
    try {
      own = Start(session, nullptr, method::Manager::Lookup, request, KeepAlive(),
                  [](ClientSession& session, v1::LookupReply& reply) {
                    return session.AdoptRef(reply.ref());
                  })
                .get();
    } catch (const KeyError& e) {
      throw KeyError(absl::StrCat(FormatToken(handle->kind_, handle->id_, incarnation),
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

}  // namespace shoal::detail
