// NamespaceObject is the shared Namespace, Python's manager.Namespace(): a
// bag of named attributes kept sorted by name. A missing attribute is
// AttributeError "'Namespace' object has no attribute 'foo'". Every value
// stored is charged to the server's MemoryBudget first, so a write past the
// limit fails with LimitError and leaves the namespace as it was.
//
// Thread-safety: every public method is safe to call from any thread; each
// takes the object's own mutex for the whole operation.
#ifndef SHOAL_SERVER_OBJECTS_NAMESPACE_OBJECT_H_
#define SHOAL_SERVER_OBJECTS_NAMESPACE_OBJECT_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/objects/budget_account.h"
#include "server/objects/memory_budget.h"
#include "server/objects/object.h"
#include "shared/mutex.h"
#include "shoal/value.h"

namespace shoal::server {

class NamespaceObject : public Object {
 public:
  // A namespace holding `initial` (Python's Namespace(**kwds); a repeated
  // name keeps its last value), charged to budget (null: unlimited) first.
  // ValueError for an empty name, LimitError when the values do not fit.
  static absl::StatusOr<std::unique_ptr<NamespaceObject>> Create(
      MemoryBudget* budget, std::vector<std::pair<std::string, Value>> initial = {});

  // An empty namespace. budget must outlive it.
  explicit NamespaceObject(MemoryBudget* budget);
  ~NamespaceObject() override = default;

  // ns.name. AttributeError when missing.
  absl::StatusOr<Value> GetAttr(const std::string& name) const;
  // ns.name = value. ValueError "attribute name must not be empty".
  absl::Status SetAttr(std::string name, Value value);
  // del ns.name. AttributeError when missing.
  absl::Status DelAttr(const std::string& name);
  // Every attribute and its value, sorted by name.
  std::vector<std::pair<std::string, Value>> Attrs() const;

  // Object:
  // Namespace(a=1, b='x'), as Python prints it: names starting with '_' are
  // left out, and the "name=value" parts are sorted as strings.
  std::string Repr() const override;
  int64_t Size() const override;  // The number of attributes.
  // Calls fn under the namespace's mutex: fn must not call back into it.
  void ForEachRef(const std::function<void(const ObjectRef&)>& fn) const override;

 private:
  // An attribute costs what a dict entry keyed by its name would.
  static int64_t AttrBytes(const std::string& name, const Value& value);

  mutable Mutex mu_;
  std::map<std::string, Value> attrs_ ABSL_GUARDED_BY(mu_);
  // Holds exactly the sum of AttrBytes over attrs_.
  BudgetAccount account_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shoal::server

#endif  // SHOAL_SERVER_OBJECTS_NAMESPACE_OBJECT_H_
