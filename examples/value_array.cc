// Python's Value and Array example, written with shoal: a child process sets
// a shared double and negates every item of a shared int Array; the parent
// prints them. The README shows the same program. The child is this program
// started again (fork, then exec), and reaches the objects by their tokens,
// as a worker on another host would.
// Usage: value_array ADDRESS AUTHKEY_FILE
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

#include <shoal/shoal.h>

// The child's work, Python's f(n, a).
void f(const shoal::Manager& m, const std::string& num_token, const std::string& arr_token) {
  auto num = m.attach<shoal::ValueProxy>(num_token);
  auto arr = m.attach<shoal::ArrayProxy>(arr_token);
  num.set(3.1415927);
  for (int64_t i = 0; i < static_cast<int64_t>(arr.len()); ++i) arr.set(i, -arr[i].as_int());
}

int main(int argc, char** argv) {
  if (argc != 3 && argc != 6) {
    std::fprintf(stderr, "usage: %s ADDRESS AUTHKEY_FILE\n", argv[0]);
    return 2;
  }
  try {
    auto key = shoal::AuthKey::from_file(argv[2]);
    if (argc == 6) {  // the child: ADDRESS AUTHKEY_FILE child NUM ARR
      f(shoal::Manager::connect(argv[1], key), argv[4], argv[5]);
      return 0;
    }
    auto m = shoal::Manager::connect(argv[1], key);
    shoal::ValueProxy num = m.Value("d", 0.0);
    shoal::Value::List range;
    for (int i = 0; i < 10; ++i) range.push_back(i);
    shoal::ArrayProxy arr = m.Array("i", range);

    const std::string num_token = num.token(), arr_token = arr.token();
    pid_t p = fork();  // p.start()
    if (p == 0) {
      execl("/proc/self/exe", argv[0], argv[1], argv[2], "child", num_token.c_str(),
            arr_token.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    int status = 0;
    waitpid(p, &status, 0);  // p.join()

    std::printf("%s\n", num.get().repr().c_str());
    std::printf("%s\n", shoal::Value(arr.slice(std::nullopt, std::nullopt)).repr().c_str());
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
  } catch (const shoal::Error& e) {
    std::fprintf(stderr, "%s: %s\n", e.kind().c_str(), e.what());
    return 1;
  }
}
