// The parsed form of a template: expression and statement trees. Built by
// parser.cpp, walked by interpreter.cpp; owns all nodes (unique_ptr).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tokenizer/jinja/value.h"

namespace dseek::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum class Kind {
    kLiteral, kName, kList, kDict, kAttr, kItem, kSlice, kCall, kFilter, kTest, kNot, kNeg, kBinary, kTernary, kTuple
  };
  Kind kind = Kind::kLiteral;
  int line = 0;
  Value literal;                // kLiteral
  std::string name;             // kName, kAttr, kFilter, kTest, kBinary (operator)
  bool negated = false;         // kTest: "is not"
  std::vector<ExprPtr> args;    // operands / positional args (kCall: args[0] is the callee; kFilter/kTest: args[0] is the subject)
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  std::vector<ExprPtr> dict_keys;  // kDict: args are the values
};

struct Node;
using NodePtr = std::unique_ptr<Node>;
using Body = std::vector<NodePtr>;

struct Node {
  enum class Kind { kText, kOutput, kIf, kFor, kSet, kMacro, kBreak, kContinue };
  Kind kind = Kind::kText;
  int line = 0;
  std::string text;                                 // kText
  ExprPtr expr;                                     // kOutput, kSet value, kFor iterable
  std::vector<std::pair<ExprPtr, Body>> branches;   // kIf: (condition, body); a null condition is `else`
  std::vector<std::string> targets;                 // kFor loop variables; kSet: [name] or [namespace, attr]
  ExprPtr filter;                                   // kFor: `for x in y if cond`
  Body body, else_body;                             // kFor, kMacro
  std::string name;                                 // kMacro
  std::vector<std::pair<std::string, ExprPtr>> params;  // kMacro: (name, default or null)
};

struct Macro {
  const Node* node;
};

}  // namespace dseek::jinja
