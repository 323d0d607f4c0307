// NamespaceProxy is a shared bag of named attributes on a shoal server, the
// counterpart of Python's manager.Namespace(). Attribute names are strings;
// values are any Value. str() prints Namespace(a=1, b='x') exactly as Python
// does: the "name=value" strings sorted, so Namespace(x1=2, x=1).
//
// Thread-safety: safe to use from several threads at once; every method is one
// atomic operation on the server.
#ifndef SHOAL_NAMESPACE_PROXY_H_
#define SHOAL_NAMESPACE_PROXY_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "shoal/proxy.h"
#include "shoal/value.h"

namespace shoal {

class NamespaceProxy : public ObjectProxy {
 public:
  static constexpr Kind kKind = Kind::kNamespace;
  class Async;

  // The same operations, pipelined: each returns a Future at once (see
  // shoal/pipeline.h). async() sends every call as it is made; async(batch)
  // gathers them in batch, to go out together.
  Async async() const;
  Async async(Batch& batch) const;

  // The Namespace a Value refers to. TypeError when value is not a reference
  // to a Namespace.
  explicit NamespaceProxy(const Value& value) : ObjectProxy(value, kKind) {}

  // ns.attr; AttributeError when missing.
  Value get(const std::string& attr) const;
  // ns.attr = value
  void set(const std::string& attr, const Value& value);
  // del ns.attr; AttributeError when missing.
  void del(const std::string& attr);
  // Every attribute and its value, sorted by name.
  std::vector<std::pair<std::string, Value>> attrs() const;

 private:
  friend class detail::ProxyAccess;
  // The view the blocking methods wait on.
  Async now() const;
  explicit NamespaceProxy(std::shared_ptr<detail::ObjectHandle> handle)
      : ObjectProxy(std::move(handle)) {}
};

// NamespaceProxy's operations, each returning a Future of what the blocking
// method returns; errors are thrown by the Future's get().
class NamespaceProxy::Async {
 public:
  Future<Value> get(const std::string& attr);
  Future<void> set(const std::string& attr, const Value& value);
  Future<void> del(const std::string& attr);
  Future<std::vector<std::pair<std::string, Value>>> attrs();

 private:
  friend class NamespaceProxy;
  explicit Async(detail::AsyncTarget target) : target_(std::move(target)) {}

  detail::AsyncTarget target_;
};

}  // namespace shoal

#endif  // SHOAL_NAMESPACE_PROXY_H_
