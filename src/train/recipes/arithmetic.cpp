// See arithmetic.h.
#include "train/recipes/arithmetic.h"

#include <cctype>

#include "train/param.h"

namespace dseek::train {

std::string ArithmeticProblem::prompt() const { return std::to_string(a) + "+" + std::to_string(b) + "="; }

std::string ArithmeticProblem::solution() const {
  std::string think;
  int64_t x = a, y = b, carry = 0;
  do {
    const int64_t s = x % 10 + y % 10 + carry;
    if (!think.empty()) think += " ";
    think += std::to_string(x % 10) + "+" + std::to_string(y % 10) + (think.empty() ? "" : "+" + std::to_string(carry)) +
             "=" + std::to_string(s);
    carry = s / 10;
    x /= 10;
    y /= 10;
  } while (x > 0 || y > 0);
  return "<think>" + think + "</think>" + std::to_string(answer()) + "\n";
}

std::vector<ArithmeticProblem> arithmetic_problems(int64_t n, int64_t max_operand, uint64_t seed) {
  Rng rng(seed);
  std::vector<ArithmeticProblem> out;
  for (int64_t i = 0; i < n; ++i)
    out.push_back({static_cast<int64_t>(rng.next() % static_cast<uint64_t>(max_operand)),
                   static_cast<int64_t>(rng.next() % static_cast<uint64_t>(max_operand))});
  return out;
}

ArithmeticReward score_completion(const ArithmeticProblem& p, const std::string& completion) {
  ArithmeticReward r;
  const std::string text = completion.substr(0, completion.find('\n'));
  const auto open = text.find("<think>"), close = text.find("</think>");
  if (open != 0 || close == std::string::npos) return r;
  const std::string tail = text.substr(close + 8);
  if (tail.empty() || tail.size() > 18) return r;
  for (char c : tail)
    if (!std::isdigit(static_cast<unsigned char>(c))) return r;
  r.format = true;
  r.correct = std::stoll(tail) == p.answer();
  return r;
}

std::string arithmetic_corpus(int64_t lines, int64_t max_operand, double noise, uint64_t seed) {
  std::string out;
  Rng rng(seed ^ 0x5eed);
  for (const ArithmeticProblem& p : arithmetic_problems(lines, max_operand, seed)) {
    std::string sol = p.solution();
    if (rng.uniform() < noise) {  // a wrong final answer after correct-looking reasoning
      const auto close = sol.find("</think>") + 8;
      int64_t wrong = p.answer();
      while (wrong == p.answer()) wrong = static_cast<int64_t>(rng.next() % static_cast<uint64_t>(2 * max_operand));
      sol = sol.substr(0, close) + std::to_string(wrong) + "\n";
    }
    out += p.prompt() + sol;
  }
  return out;
}

}  // namespace dseek::train
