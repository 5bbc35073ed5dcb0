"""The questions a sentence of an article answers, in the forms people ask them."""

import time

import pytest

from learner.learning.questions import other_way_round, questions, restate


@pytest.mark.parametrize("sentence, title, expected", [
    ("Its capital is the city of Drennport, on the river Sarrow.", "Vexaria",
     []),  # an unresolved pronoun: the knowledge stage names the subject first
    ("Vexaria's capital is Drennport, on the river Sarrow.", "Vexaria",
     [("what", "What is Vexaria's capital?", "Drennport")]),
    ("The tallest tower is the Quell Spire, built of glass.", "Drennport",
     [("what", "What is the tallest tower of Drennport?", "the Quell Spire")]),
    ("In 2047 the company was bought by the Orrin Group for 40 million crowns.", "Zorblax Labs",
     [("what", "What bought Zorblax Labs?", "the Orrin Group"), ("when", "When was Zorblax Labs bought?", "2047")]),
    ("The lab was founded in 2041 by the engineer Mira Quell, whose father ran a mill.", "Lab",
     [("who", "Who founded Lab?", "the engineer Mira Quell"), ("when", "When was Lab founded?", "2041")]),
    ("Drennport is the largest port of the Vexarian coast.", "Drennport",
     [("what", "What is the largest port of the Vexarian coast?", "Drennport")]),  # the other way round
    ("Mira Quell (born 3 March 2009) is a Vexarian engineer.", "Mira Quell",
     [("when", "When was Mira Quell born?", "3 March 2009")]),
    ("Quell studied physics at the University of Pellamy, where she met her husband.", "Mira Quell",
     [("where", "Where did Mira Quell study physics?", "the University of Pellamy")]),
    ("Quell worked as a welder for a shipyard in Drennport for six years.", "Mira Quell",
     [("what", "What did Mira Quell work as?", "a welder"), ("how long", "How long did Mira Quell work?", "six years"),
      ("where", "Where did Mira Quell work as a welder for a shipyard?", "Drennport")]),
    ("The glimmerfin lives in shallow reefs and kelp forests.", "Glimmerfin",
     [("where", "Where does Glimmerfin live?", "shallow reefs and kelp forests")]),
    ("Adult glimmerfins have a length of 4 to 6 centimetres.", "Glimmerfin",
     [("what", "What is the length of adult glimmerfins?", "4 to 6 centimetres")]),
    ("Quell is married to the chemist Arno Vey.", "Mira Quell",
     [("who", "Who is Mira Quell married to?", "the chemist Arno Vey")]),
    ("The reefs are warm and shallow.", "Glimmerfin", []),  # nothing to ask for
    ("Construction took six years and was paid for by a lottery.", "Quell Spire", []),
])
def test_a_sentence_answers_the_questions_people_ask(sentence, title, expected):
    assert [(q.form, q.text, q.slot) for q in questions(sentence, title)] == expected


@pytest.mark.parametrize("sentence, expected", [
    ("The Quell Spire was designed by Oska Venn in 2050.",
     [("what", "What was designed by Oska Venn in 2050?", "The Quell Spire"),
      ("what", "What did Oska Venn design?", "The Quell Spire")]),
    ("Arno Vey discovered the Harrowgate Comet in 2033.",
     [("who", "Who discovered the Harrowgate Comet in 2033?", "Arno Vey"),
      ("what", "What did Arno Vey discover?", "the Harrowgate Comet"),
      ("when", "When did Arno Vey discover the Harrowgate Comet?", "2033")]),
    ("The Orrin Group owns three shipyards.",
     [("what", "What owns three shipyards?", "The Orrin Group"), ("what", "What does the Orrin Group own?", "three shipyards")]),
    ("The largest town of Harrowmere is Kestrel Bay.", [("what", "What is Kestrel Bay?", "The largest town of Harrowmere")]),
    ("My dentist is Ilse Corrow.", [("who", "Who is Ilse Corrow?", "My dentist")]),
    ("A velvet newt is pale green.", [("what", "What is pale green?", "A velvet newt")]),
    ("Your cat Miso is a Maine Coon.", []),  # "What is a Maine Coon?" would answer every question about the breed
    ("My favourite drink is the flat white.", []),
    ("It was built in 1911.", []),  # an unresolved pronoun
    ("Arno Vey designed it.", []),
    ("Mira Quell.", []),
    ("No, Arno Vey designed the Quell Spire.",
     [("who", "Who designed the Quell Spire?", "Arno Vey"), ("what", "What did Arno Vey design?", "the Quell Spire")]),
    # What would be a general question, answered with the user's fact wherever it is asked:
    ("Dogs are mammals.", []), ("My favourite city is Paris.", []), ("Oska Venn was born in 1950.", []),
])
def test_a_statement_is_asked_from_its_other_side(sentence, expected):
    assert [(q.form, q.text, q.slot) for q in other_way_round(sentence)] == expected


def test_a_long_run_of_capitals_is_read_in_linear_time():
    started = time.perf_counter()
    assert other_way_round("The key is " + "A" * 60 + ":") == []
    assert time.perf_counter() - started < 5  # backtracking would take longer than the universe's age


@pytest.mark.parametrize("question, answer, statement", [
    ("Who founded Zorblax Labs?", "Mira Quell.", "Mira Quell founded Zorblax Labs."),
    ("Which cyclist won the Tour of Brann?", "Arno Vey", "Arno Vey won the Tour of Brann."),
    ("What is the capital of Vexaria?", "Drennport", "The capital of Vexaria is Drennport."),
    ("Who was the Quell Spire designed by?", "Oska Venn", "The Quell Spire was designed by Oska Venn."),
    ("What did Mira Quell found in 2041?", "Zorblax Labs", "Mira Quell founded Zorblax Labs in 2041."),
    ("What does the marsh thrumble feed on?", "Ripe figs.", "The marsh thrumble feeds on ripe figs."),
    ("What did Mira have for dinner?", "Soup.", "Mira had soup for dinner."),
    ("What is my dog called?", "Pepper.", "Your dog is called Pepper."),  # as the assistant says it
    ("How many cats do I have?", "Two.", "You have two cats."),
    ("What's the capital of Vexaria?", "Drennport", "The capital of Vexaria is Drennport."),
    ("Which country does Pemberlow belong to?", "Dreskovia", "Pemberlow belongs to Dreskovia."),
    ("How many moons does Vexaria have?", "Seven.", "Vexaria has seven moons."),
    ("Where is Pemberlow?", "In Dreskovia.", "Pemberlow is in Dreskovia."),
    ("Where was Arno Vey born?", "Lunhaven", "Arno Vey was born in Lunhaven."),
    ("When was Zorblax Labs founded?", "2041", "Zorblax Labs was founded in 2041."),
    ("who is Mira Quell?", "A physicist.", "Mira Quell is a physicist."),
    # An answer that says something already, or a question whose restatement would be a guess:
    ("Who founded Zorblax Labs?", "Mira Quell founded it in 2041.", None),
    ("Who discovered penicillin?", "Alexander Fleming, in 1928.", None),
    ("What year did the war end?", "1945", None), ("Why is the sky blue?", "Rayleigh scattering.", None),
    ("What is Drennport the capital of?", "Vexaria", None), ("Which is bigger?", "The moon.", None),
    ("What does Hester Blenkin do for a living?", "Clockmaker.", None), ("Hello", "Hi", None),
    ("Who never lost a battle?", "Alexander the Great.", None), ("Who founded Zorblax Labs?", "No one.", None),
    ("What is the capital of Australia?", "No idea", None), ("Who founded Zorblax Labs?", "I think Mira Quell.", None),
    ("Who founded Zorblax Labs?", "Not Arno Vey.", None), ("What is your name?", "Grokling.", None),
    ("Who founded it?", "Mira Quell.", None), ("Who founded Microsoft? I always forget.", "Bill Gates", "Bill Gates founded Microsoft."),
    ("What is the capital of France, if you know?", "Paris", None), ("Where is Mira from?", "Ireland", None),
    ("What is the past tense of run?", "Ran.", None), ("Who was killed in 1914?", "Franz Ferdinand.", None),
    ("What does Mira like to eat?", "Pizza.", None), ("What does the quiverwing bat feed on?", "Figs.", None),
])
def test_an_answer_of_a_few_words_is_restated_as_the_sentence_it_answers(question, answer, statement):
    assert restate(question, answer) == statement
