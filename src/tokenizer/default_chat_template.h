// dseek's own chat template for generated models, in the DeepSeek-V3/R1 prompt
// format (DEEPSEEK_NOTES.md, "Chat formats"): system text after BOS, <｜User｜> /
// <｜Assistant｜> turns, earlier answers keep only the text after </think>, V3
// tool-call and tool-output markup; `thinking` opens a <think> block.
// Written for dseek (not copied from any model repository).
#pragma once

#include <string_view>

namespace dseek {

inline constexpr std::string_view kDefaultChatTemplate = R"TMPL({%- set ns = namespace(system='', in_tools=false) -%}
{%- for message in messages -%}
  {%- if message['role'] == 'system' -%}
    {%- if ns.system -%}
      {%- set ns.system = ns.system + '\n\n' + message['content'] -%}
    {%- else -%}
      {%- set ns.system = message['content'] -%}
    {%- endif -%}
  {%- endif -%}
{%- endfor -%}
{{- bos_token + ns.system -}}
{%- for message in messages -%}
  {%- if message['role'] == 'user' -%}
    {%- if ns.in_tools -%}
      {{- '<｜tool▁outputs▁end｜>' -}}
      {%- set ns.in_tools = false -%}
    {%- endif -%}
    {{- '<｜User｜>' + message['content'] -}}
  {%- elif message['role'] == 'assistant' -%}
    {%- if ns.in_tools -%}
      {{- '<｜tool▁outputs▁end｜>' -}}
      {%- set ns.in_tools = false -%}
    {%- else -%}
      {{- '<｜Assistant｜>' -}}
    {%- endif -%}
    {%- if message['content'] is string -%}
      {{- message['content'].split('</think>')[-1] -}}
    {%- endif -%}
    {%- if message['tool_calls'] is defined and message['tool_calls'] -%}
      {{- '<｜tool▁calls▁begin｜>' -}}
      {%- for call in message['tool_calls'] -%}
        {%- if call['function']['arguments'] is string -%}
          {%- set args = call['function']['arguments'] -%}
        {%- else -%}
          {%- set args = call['function']['arguments'] | tojson -%}
        {%- endif -%}
        {{- '<｜tool▁call▁begin｜>function<｜tool▁sep｜>' + call['function']['name'] + '\n```json\n' + args + '\n```<｜tool▁call▁end｜>' -}}
      {%- endfor -%}
      {{- '<｜tool▁calls▁end｜>' -}}
    {%- endif -%}
    {{- '<｜end▁of▁sentence｜>' -}}
  {%- elif message['role'] == 'tool' -%}
    {%- if not ns.in_tools -%}
      {{- '<｜tool▁outputs▁begin｜>' -}}
      {%- set ns.in_tools = true -%}
    {%- endif -%}
    {{- '<｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>' -}}
  {%- endif -%}
{%- endfor -%}
{%- if ns.in_tools -%}
  {{- '<｜tool▁outputs▁end｜>' -}}
{%- elif add_generation_prompt is defined and add_generation_prompt -%}
  {{- '<｜Assistant｜>' -}}
  {%- if thinking is defined and thinking -%}
    {{- '<think>\n' -}}
  {%- endif -%}
{%- endif -%})TMPL";

}  // namespace dseek
