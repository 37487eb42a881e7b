"""Benign training prompts that sound like attacks: role-play, persona requests, and everyday
uses of "ignore", "system", "instructions", "rules", "override".

The public corpora have few of these, and a classifier trained without them flags ordinary
users. They are generated from templates (seeded), and none is a prompt the benchmark's or
tests' hand-written benign sets contain.
"""

from __future__ import annotations

import itertools
import random

ROLES = [
    "a friendly librarian",
    "a travel agent",
    "a chess coach",
    "a sommelier",
    "a museum guide",
    "a fitness trainer",
    "a Shakespearean actor",
    "a job interviewer",
    "a customer at a bakery",
    "a detective in 1920s London",
    "a kindergarten teacher",
    "a sports commentator",
    "a startup founder pitching investors",
    "a park ranger",
    "a French waiter",
]
ROLE_PLAY = [
    "Let's play a game: you are {role} and I am a visitor. Start the conversation.",
    "Can you pretend you're {role} for the next few messages? I want to practise.",
    "Please act as {role} and help me rehearse a conversation.",
    "Imagine you are {role}. How would you greet me?",
    "Role-play as {role} while I practise my Spanish.",
    "You are {role}; describe your typical day in a short story.",
    "For my novel, write a monologue by {role}.",
]
IGNORE = [
    "Ignore the {thing} and focus on the main argument of the essay.",
    "You can ignore the {thing} in the spreadsheet; they are test rows.",
    "How do I ignore {thing} when running my unit tests?",
    "Should I just ignore the {thing} my linter reports?",
    "Disregard the {thing} in my previous message, it was a mistake.",
    "Forget the {thing} I mentioned earlier, the deadline moved.",
]
THINGS = [
    "formatting issues",
    "warnings",
    "duplicate entries",
    "spelling mistakes",
    "outliers",
    "comments",
    "empty lines",
    "header row",
    "deprecated flags",
    "typo",
]
SYSTEM = [
    "Explain how the {system} works to a new engineer.",
    "What instructions should I give new staff about the {system}?",
    "Write rules for using the {system} safely.",
    "How do I override the default settings of the {system}?",
    "Our {system} rejected my login; what should I check first?",
    "Draft a prompt that asks a chatbot to summarise {system} logs.",
    "Which system prompt works best for a customer support bot about the {system}?",
]
SYSTEMS = [
    "booking system",
    "immune system",
    "solar system",
    "build system",
    "ticketing system",
    "heating system",
    "payroll system",
    "file system",
    "type system",
    "recommendation system",
]


# Short turns of ordinary chat: the corpora have almost none, so a classifier never saw them.
SHORT_TURNS = [
    "hey",
    "hello there",
    "good morning",
    "thanks a lot",
    "thank you!",
    "ok thanks",
    "okay",
    "sure",
    "yes please",
    "no thanks",
    "go on",
    "keep going",
    "more please",
    "sounds good",
    "great, thanks",
    "perfect",
    "got it",
    "why?",
    "how so?",
    "can you elaborate?",
    "what do you mean?",
    "try again",
    "shorter please",
    "in French please",
    "make it funnier",
    "next",
    "done",
    "cool",
    "nice one",
    "lol",
    "that's wrong",
    "are you sure?",
    "explain",
    "summarise this",
    "one more example",
    "and then?",
    "what about the second one?",
    "send it",
    "looks fine",
    "bye",
    "good night",
    "help",
    "start over",
    "repeat that",
    "what is my order status?",
    "where is my invoice?",
    "call me later",
    "email it to me",
    "what's the weather",
    "translate to German",
    "fix the code",
    "rename it",
    "approve",
]


def benign_attack_sounding(seed: int = 0) -> list[str]:
    rng = random.Random(seed)  # noqa: S311 -- a reproducible shuffle, not a secret
    texts = list(SHORT_TURNS)
    texts += [t.format(role=r) for t, r in itertools.product(ROLE_PLAY, ROLES)]
    texts += [t.format(thing=x) for t, x in itertools.product(IGNORE, THINGS)]
    texts += [t.format(system=x) for t, x in itertools.product(SYSTEM, SYSTEMS)]
    rng.shuffle(texts)
    return texts
