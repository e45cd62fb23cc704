// The torture suite's C++ program, compiled by the test with the system's
// g++: 8 std::threads with vectors, maps, strings and shared_ptrs. Each
// thread makes one std::vector<char> of 70000+t bytes (exact counts in the
// trace); everything else is allocated in bulk.
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

static std::mutex mu;
static std::map<int, long> results;

static void work(int t) {
  std::vector<char> big(70000 + t, static_cast<char>(t));
  std::map<int, std::string> m;
  std::unordered_map<std::string, int> u;
  std::vector<std::shared_ptr<long>> sp;
  for (int i = 0; i < 5000; i++) {
    m[i] = std::to_string(i * t) + std::string(i % 40, 'x');
    u[m[i]] = i;
    sp.push_back(std::make_shared<long>(i));
  }
  long sum = big[100];
  for (auto &kv : m) sum += static_cast<long>(kv.second.size());
  for (auto &p : sp) sum += *p;
  sum += static_cast<long>(u.size());
  std::lock_guard<std::mutex> g(mu);
  results[t] = sum;
}

int main() {
  std::vector<std::thread> ts;
  for (int t = 0; t < 8; t++) ts.emplace_back(work, t);
  for (auto &t : ts) t.join();
  for (auto &kv : results) std::printf("%d %ld\n", kv.first, kv.second);
  return 0;
}
