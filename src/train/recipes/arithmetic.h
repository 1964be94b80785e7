// The `arithmetic` task of `dseek train grpo`: addition problems with a
// verifiable answer. A completion is rewarded for the right answer and for
// the R1 format — reasoning inside <think>…</think>, then the answer. Also
// writes a (deliberately noisy) worked-solution corpus to pretrain a base
// policy on, so GRPO starts from a model that knows the format but errs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dseek::train {

struct ArithmeticProblem {
  int64_t a = 0, b = 0;
  std::string prompt() const;      // "23+45="
  std::string solution() const;    // "<think>3+5=8 2+4+0=6</think>68\n": digit sums, least significant first
  int64_t answer() const { return a + b; }
};

// Problems with operands in [0, max_operand), from a seeded generator.
std::vector<ArithmeticProblem> arithmetic_problems(int64_t n, int64_t max_operand, uint64_t seed);

struct ArithmeticReward {
  bool correct = false;  // the text after </think> (to the first newline) is the right number
  bool format = false;   // "<think>" … "</think>" then digits
  double value(double format_weight) const { return (correct ? 1.0 : 0.0) + (format ? format_weight : 0.0); }
};
ArithmeticReward score_completion(const ArithmeticProblem& p, const std::string& completion);

// `lines` worked solutions, a `noise` fraction of them with a wrong final answer.
std::string arithmetic_corpus(int64_t lines, int64_t max_operand, double noise, uint64_t seed);

}  // namespace dseek::train
