// The shoal client library in one include: Manager and the proxies of the
// shared objects, the dynamic Value they hold, and the exceptions they throw.
//
//   auto m = shoal::Manager::connect("127.0.0.1:50051",
//                                    shoal::AuthKey::from_file("shoal.key"));
//   shoal::ListProxy jobs = m.list();
//   jobs.append(1);
//   shoal::DictProxy results = m.dict("results");
//   results.set("jobs", jobs);  // a live reference, as Python's nested proxies
//
// Thread-safety: Manager and every proxy may be used from several threads at
// once; Value is a plain value type (see shoal/value.h).
#ifndef SHOAL_SHOAL_H_
#define SHOAL_SHOAL_H_

#include "shoal/acquirer_proxy.h"
#include "shoal/array_proxy.h"
#include "shoal/auth_key.h"
#include "shoal/condition_proxy.h"
#include "shoal/connection_proxy.h"
#include "shoal/dict_proxy.h"
#include "shoal/errors.h"
#include "shoal/event_proxy.h"
#include "shoal/list_proxy.h"
#include "shoal/login.h"
#include "shoal/manager.h"
#include "shoal/namespace_proxy.h"
#include "shoal/pipeline.h"
#include "shoal/pool.h"
#include "shoal/process.h"
#include "shoal/proxy.h"
#include "shoal/queue_proxy.h"
#include "shoal/value.h"
#include "shoal/value_proxy.h"

#endif  // SHOAL_SHOAL_H_
