// Python's Value and Array example, written with shoal: a child process sets
// a shared double and negates every item of a shared int Array; the parent
// prints them. The README shows the same program. The child is forked by
// shoal::Process and uses the proxies it inherited.
// Usage: value_array ADDRESS AUTHKEY_FILE
#include <cstdint>
#include <cstdio>

#include <shoal/shoal.h>

// Python's f(n, a): runs in the child.
void f(shoal::ValueProxy n, shoal::ArrayProxy a) {
  n.set(3.1415927);
  for (int64_t i = 0; i < static_cast<int64_t>(a.len()); ++i) a.set(i, -a[i].as_int());
}

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s ADDRESS AUTHKEY_FILE\n", argv[0]);
    return 2;
  }
  try {
    auto m = shoal::Manager::connect(argv[1], shoal::AuthKey::from_file(argv[2]));
    shoal::ValueProxy num = m.Value("d", 0.0);
    shoal::Value::List range;
    for (int i = 0; i < 10; ++i) range.push_back(i);
    shoal::ArrayProxy arr = m.Array("i", range);

    shoal::Process p([num, arr] { f(num, arr); });
    p.start();
    p.join();

    std::printf("%s\n", num.get().repr().c_str());
    std::printf("%s\n", shoal::Value(arr.tolist()).repr().c_str());
    return p.exitcode() == 0 ? 0 : 1;
  } catch (const shoal::Error& e) {
    std::fprintf(stderr, "%s: %s\n", e.kind().c_str(), e.what());
    return 1;
  }
}
