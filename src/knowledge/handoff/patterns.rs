//! The vocabulary of handoff sentences in Spanish (tú, vos and usted),
//! Brazilian Portuguese and English, as regular expressions compiled once.
//!
//! Written from the grammar of the sentences a business uses to say that a
//! person does something, not from any evaluation article: an operation
//! topicalized before its verb ("este trámite **lo gestiona** un asesor"),
//! a person as the subject of a handling verb ("um atendente vai cuidar",
//! "our team handles this"), a passive with the person as agent ("is
//! processed by an advisor"), the customer being told they must talk to a
//! person ("debés hablar con un ejecutivo"), and an operation that cannot
//! be self-served, next to a person.
//!
//! Patterns run on accent-folded text (`ñ` → `n`, `á` → `a`) with single
//! spaces, case-insensitively; case is kept so that "el equipo de
//! Reembolsos" (a team) differs from "el equipo de cómputo" (a device).
//! Verbs that also describe physical work or plain contact ("revisa la
//! señal", "te atiende", "the technician checks") count only with an object
//! that is a customer's case or request; contact verbs count only with a
//! purpose ("te llama para hacerte el presupuesto").

use std::sync::LazyLock;

use regex::Regex;

/// Named building blocks; `{name}` in a template (or another block) is
/// replaced by `(?:block)`. Braces that are not a name (`{0,40}`) stay.
const BLOCKS: &[(&str, &str)] = &[
    // ---------------------------------------------------------- Spanish
    (
        "role_es",
        r"asesor(?:a|es|as)?|agentes?|ejecutiv[oa]s?|especialistas?|gestor(?:a|es|as)?|analistas?|representantes?|consultor(?:a|es|as)?|tramitador(?:a|es|as)?|coordinador(?:a|es|as)?|supervisor(?:a|es|as)?|tecnic[oa]s?|humanos?|personas?",
    ),
    (
        "det_es",
        r"un|una|el|la|los|las|nuestr[oa]s?|uno de nuestros|una de nuestras|alguno de nuestros|alguna de nuestras",
    ),
    (
        "who_es",
        r"\b(?:{det_es}) {role_es}\b|\bnuestro equipo\b|\b(?:el|un) equipo (?:de|del) (?-i:\p{Lu})|\balguien (?:de|del) (?:nuestro )?(?:equipo|area)\b",
    ),
    // With a topicalized object nothing else can be the subject, so a bare
    // "el equipo" or "el personal" is a team here.
    (
        "who_es_broad",
        r"{who_es}|\b(?:el|nuestro) (?:equipo|personal)\b",
    ),
    // A short qualifier between the person and the verb: "un asesor
    // técnico", "un agente de nuestro equipo de Reembolsos".
    (
        "tail_es",
        r"(?: [a-z]+)?(?: (?:de|del|de la|en) [^,.;:]{1,40}?)?",
    ),
    (
        "handle_es",
        r"(?:gestion|tramit|evalu|estudi|coordin|proces|cotiz)(?:a|an|ara|aran|e|en)|analiz(?:a|an|ara|aran)|analic(?:e|en)|se (?:encarg|ocup)(?:a|an|ara|aran)|resuelve(?:n)?|resolvera(?:n)?|aprueba(?:n)?|aprobara(?:n)?|autoriz(?:a|an|ara)|autoric(?:e|en)",
    ),
    (
        "handle_inf_es",
        r"gestionar|tramitar|evaluar|estudiar|coordinar|procesar|cotizar|analizar|encargarse|ocuparse|resolver|aprobar|autorizar",
    ),
    // "Does it": only with the operation topicalized ("el cambio lo hace un
    // agente"); "el técnico hace la instalación" is physical work.
    (
        "do_es",
        r"hace(?:n)?|hara(?:n)?|haga(?:n)?|realiz(?:a|an|ara|aran)|realic(?:e|en)",
    ),
    (
        "review_es",
        r"revis(?:a|an|ara|aran|e|en)|valid(?:a|an|ara|e|en)|verific(?:a|an|ara)|verifiqu(?:e|en)|atiende(?:n)?",
    ),
    ("review_inf_es", r"revisar|validar|verificar|atender"),
    (
        "case_es",
        r"(?:tu|tus|su|sus|cada|el|la|los|las|este|esta|estos|estas)(?: [a-z]+)? (?:casos?|solicitud(?:es)?|reclamos?|reclamacion(?:es)?|reportes?|quejas?|pedidos?|cuentas?|linea|documentacion|documentos|identidad|registro|peticion(?:es)?|tramites?|expediente|situacion|instalacion|informe|incidencias?|denuncias?|aclaracion(?:es)?|disputas?|cambios?|baja|devolucion|reembolsos?)\b",
    ),
    (
        "modal_es",
        r"tiene que|tienen que|debe|deben|puede|pueden|va a|van a|necesita|tendra que|debera",
    ),
    (
        "must_es",
        r"debes|debe|deberas|debera|tienes que|tenes que|tiene que|tendras que|tendra que|hay que|necesitas|necesita|es necesario|se debe|se tiene que",
    ),
    (
        "talk_es",
        r"hablar|comunicarte|comunicarse|contactar(?:te|se)?|escribir(?:le)?|llamar(?:le)?|acudir|pedirlo|solicitarlo|gestionarlo|tramitarlo|coordinarlo|consultarlo|agendarlo|agendar",
    ),
    (
        "self_service_es",
        r"app|aplicacion|web|sitio|pagina|perfil|portal|area clientes?|linea|internet|autoservicio|asistente|bot|cajero",
    ),
    // ------------------------------------------------------- Portuguese
    (
        "role_pt",
        r"atendentes?|consultor(?:a|es|as)?|especialistas?|tecnic[oa]s?|agentes?|analistas?|assessor(?:a|es|as)?|representantes?|gerentes?|colaborador(?:a|es|as)?|pessoas?|membros? d[ao] (?:nossa )?equipe",
    ),
    (
        "det_pt",
        r"um|uma|o|a|os|as|nosso|nossa|nossos|nossas|um dos nossos|uma das nossas|um de nossos|uma de nossas",
    ),
    (
        "who_pt",
        r"\b(?:{det_pt}) {role_pt}\b|\b(?:a )?nossa equipe\b|\b(?:o )?nosso time\b|\ba equipe d[eao] |\bo time d[eao] |\balguem d[ao] (?:nossa )?equipe\b",
    ),
    ("tail_pt", r"(?: [a-z]+)?(?: d[aoe]s? [^,.;:]{1,40}?)?"),
    (
        "handle_pt",
        r"cuida(?:m|ra|rao)?|trata(?:m|ra)?|analisa(?:m|ra)?|avalia(?:m|ra)?|processa(?:m|ra)?|gerencia(?:m)?|coordena(?:m|ra)?|resolve(?:m|ra)?|conduz(?:em)?|se encarrega(?:m|ra)?|faz(?:em)?|fara(?:o)?|realiza(?:m|ra)?|aprova(?:m)?|cuide|trate|analise|avalie|processe|faca(?:m)?|realize",
    ),
    (
        "handle_inf_pt",
        r"cuidar|tratar|analisar|avaliar|processar|gerenciar|coordenar|resolver|conduzir|se encarregar|fazer|realizar|revisar|aprovar|verificar|atender",
    ),
    (
        "modal_pt",
        r"vai|vao|ira|irao|pode|podem|deve|devem|precisa|precisam|tem que",
    ),
    (
        "must_pt",
        r"precisa|precisara|precisa de|precisam|tem que|tera que|deve|devera|e necessario|sera necessario|e preciso",
    ),
    (
        "talk_pt",
        r"falar|conversar|entrar em contato|contatar|ligar|escrever|chamar|solicitar|pedir",
    ),
    // ---------------------------------------------------------- English
    (
        "role_en",
        r"advis[eo]rs?|agents?|specialists?|technicians?|representatives?|reps|consultants?|(?:account|case) managers?|(?:case|claims) handlers?|team members?|staff members?|colleagues?|team|staff|person|human",
    ),
    (
        "det_en",
        r"an?|the|one of our|our|your|a member of our|someone (?:from|on|in|at) (?:our|the)",
    ),
    ("who_en", r"\b(?:{det_en}) (?:[a-z]+ ){0,2}?(?:{role_en})\b"),
    ("tail_en", r"(?: (?:from|in|on|at|of) [^,.;:]{1,40}?)?"),
    (
        "handle_en",
        r"handles?|manages?|process(?:es)?|assess(?:es)?|evaluates?|coordinates?|arranges?|takes? care of|deals? with|looks? into|carr(?:y|ies) out|approves?|authori[sz]es?|sorts? (?:it|this|that) out|does (?:it|this|that)|do (?:it|this|that)|makes? the change",
    ),
    ("review_en", r"reviews?|checks?|verif(?:y|ies)|validates?"),
    (
        "case_en",
        r"(?:(?:your|each|every|the|this|that|these|those)(?: [a-z]+)? (?:case|cases|request|requests|claim|claims|application|documents|account|order|report|complaint|refund|dispute|situation)|it|them)\b",
    ),
    (
        "modal_en",
        r"will|can|must|has to|have to|needs to|need to|then|personally|always|usually",
    ),
    (
        "must_en",
        r"must|need to|needs to|have to|has to|will need to|should|are required to",
    ),
    (
        "done_en",
        r"handled|managed|processed|reviewed|assessed|evaluated|coordinated|arranged|done|carried out|approved|dealt with|taken care of|authori[sz]ed|quoted|made",
    ),
];

/// A person does the operation. Each one alone flags a sentence.
const POLICY: &[&str] = &[
    // es: the operation topicalized, then the verb and the person.
    r"\b(?:lo|la|los|las) (?:(?:siempre|solo|solamente|unicamente|directamente|personalmente) )?(?:{handle_es}|{do_es}|{review_es}) (?:(?:siempre|directamente|personalmente|manualmente) )?(?:{who_es_broad})",
    r"\bque (?:{handle_es}) (?:{who_es})",
    r"\b(?:lo|la|los|las) (?:{modal_es}) (?:{handle_inf_es}|{review_inf_es}|hacer|realizar|cambiar|modificar|activar) (?:{who_es_broad})",
    // es: the person as subject of a handling verb.
    r"(?:{who_es}){tail_es} (?:(?:lo|la|los|las|te) )?(?:(?:{modal_es}) )?(?:{handle_es}|{handle_inf_es})\b",
    r"(?:{who_es}){tail_es} (?:(?:{modal_es}) )?(?:{review_es}|{review_inf_es}) (?:con vos |contigo |con usted )?(?:{case_es})",
    r"(?:{who_es}){tail_es} te (?:llama|llamara|contacta|contactara|escribe|escribira)\b[^.;]{0,40}?\bpara\b",
    // es: passives and "a cargo de".
    r"\b(?:es|son|sera|seran|debe ser|tiene que ser) (?:gestionad|tramitad|revisad|evaluad|procesad|realizad|analizad|atendid|coordinad|hech|aprobad)[oa]s? (?:(?:directamente|unicamente|solo|manualmente) )?por (?:{who_es_broad})",
    r"\bse (?:gestiona|tramita|hace|realiza|coordina|solicita|pide|cotiza|agenda|contrata)n? (?:(?:unicamente|solo|solamente|directamente) )?(?:con|a traves de|por medio de|mediante) (?:{who_es})",
    r"\ba cargo (?:de|del|de la|d[ao]s?) (?:(?:{det_es}|{det_pt}) )?(?:{role_es}|{role_pt}|equipo|equipe|time)\b",
    // pt
    r"(?:{who_pt}){tail_pt} (?:(?:{modal_pt}) )?(?:(?:se|o|a|os|as) )?(?:{handle_pt}|{handle_inf_pt})\b",
    r"\b(?:e|sao|sera|serao|precisa ser|precisam ser|deve ser|devem ser|tem que ser|fica|ficam) (?:feit|tratad|analisad|avaliad|processad|realizad|conduzid|gerenciad|cuidad|resolvid|revisad|aprovad)[oa]s? (?:(?:somente|apenas|diretamente|manualmente) )?(?:por (?:um|uma|nossa|nosso|nossos|nossas) |pel[oa]s? (?:(?:nossa|nosso|nossos|nossas) )?)(?:{role_pt}|equipe|time)\b",
    r"\bquem (?:cuida|faz|trata|resolve|analisa|avalia|cuidara|fara)\b[^.;]{0,40}? (?:e|sao|sera) (?:{who_pt})",
    // en
    r"(?:{who_en}){tail_en} (?:(?:{modal_en}) ){0,2}(?:{handle_en})\b",
    r"(?:{who_en}){tail_en} (?:(?:{modal_en}) ){0,2}(?:{review_en}) (?:{case_en})",
    r"\b(?:is|are|will be|must be|has to be|have to be|needs to be|need to be|can only be|can be|gets|get)(?: (?:only|always|then))? (?:{done_en}) (?:(?:manually|personally|directly|only) )?by (?:{who_en})",
];

/// The customer must turn to a person for the operation. Not counted in a
/// sentence that only says how to reach one ([`CONTACT`]).
const REFERRAL: &[&str] = &[
    r"\b(?:{must_es})(?: [a-z]+)? (?:{talk_es}) (?:[^.;:]{0,30}? )?(?:con|a) (?:{who_es})",
    r"\b(?:consulta|consulte|consultalo|habla|hable|comunicate|comuniquese|contacta|contacte|solicitalo|pidelo|pedilo)\b[^.;:]{0,60}? con (?:{who_es})",
    r"\b(?:{must_pt})(?: [a-z]+)? (?:{talk_pt}) (?:[^.;:]{0,30}? )?(?:com|para|a|ao) (?:{who_pt})",
    r"\b(?:fale|converse|entre em contato|contate|consulte|chame|ligue)\b[^.;:]{0,60}? (?:com|para) (?:{who_pt})",
    r"\b(?:{must_en})(?: [a-z]+)? (?:(?:talk|speak|chat)(?: directly)? (?:to|with)|contact|call|write to|message|reach out to|get in touch with) (?:{who_en})",
    r"(?:^|[.:;] )(?:please )?(?:talk|speak|chat) (?:to|with) (?:{who_en})",
];

/// How to reach a person in general, not a policy: "para hablar con un
/// asesor escribe 'asesor'", "if you prefer to talk to a person", "any
/// questions".
const CONTACT: &str = r#"\bpara (?:hablar|pasar|comunicarte|chatear|contactar)\b|\bescrib\w* ["'“«]?(?:asesor|agente|ejecutivo|humano|persona|atendente|agent|advisor|human)\b|\bcualquier (?:duda|consulta|pregunta)|\bsi (?:tienes|tenes|tiene) (?:dudas|preguntas|consultas)|\bsi (?:prefieres|preferis|prefiere|necesitas ayuda)|\bse (?:preferir|tiver duvidas)|\bpara falar com\b|\bif you (?:need|want|prefer|would like) to (?:talk|speak|chat)|^to (?:talk|speak|chat|reach)\b|\bany (?:questions|doubts)\b|\btype ["'“]?(?:agent|advisor|human|person)\b"#;

/// The operation cannot be done by the customer alone.
const NOT_SELF_SERVICE: &str = r"\b(?:no|tampoco) (?:(?:se )?(?:puede[ns]?|podes|podras|puedes)|es posible|esta disponible|estan disponibles|se (?:hace|vende|agenda|contrata|tramita|gestiona|realiza|modifica|edita|solicita|ofrece)n?)\b[^.;]{0,60}?\b(?:desde|en|por|a traves de|con) (?:(?:la|el|tu|su|nuestra|nuestro) )?(?:{self_service_es})\b|\bnao (?:e possivel|da para|da pra|pode ser|podem ser|conseguimos|consegue|e feit[oa]|sao feit[oa]s|se faz|esta disponivel)\b[^.;]{0,60}?\b(?:pelo|pela|no|na|em|via) (?:app|aplicativo|site|portal|internet|autoatendimento)\b|\b(?:cannot|can't|can not|isn't possible|is not possible|not possible|not available|isn't available|aren't available)\b[^.;]{0,50}?\b(?:in|on|through|from|via|using) (?:(?:the|our|your) )?(?:app|website|web|site|portal|self-service)\b|\b(?:cannot|can't|can not) be done online\b";

/// Any person, for the sentence next to a [`NOT_SELF_SERVICE`] one.
const PERSON: &str = r"(?:{who_es})|(?:{who_pt})|(?:{who_en})";

/// A cheap first test: a sentence without one of these word starts cannot
/// name a person, so no other pattern runs on it.
const PERSON_WORD: &str = r"\b(?:asesor|agente|ejecutiv|especialista|gestor|analista|representante|consultor|tramitador|coordinador|supervisor|tecnic|human|persona|alguien|equipo|personal|atendente|assessor|gerente|colaborador|pessoa|membro|equipe|time|advis|agent|specialist|technician|rep|consultant|manager|handler|team|staff|person|colleague|member|someone)";

/// The compiled vocabulary.
pub(super) struct Patterns {
    pub policy: Vec<Regex>,
    pub referral: Vec<Regex>,
    pub contact: Regex,
    pub not_self_service: Regex,
    pub person: Regex,
    pub person_word: Regex,
}

pub(super) static PATTERNS: LazyLock<Patterns> = LazyLock::new(|| Patterns {
    policy: POLICY.iter().map(|p| compile(p)).collect(),
    referral: REFERRAL.iter().map(|p| compile(p)).collect(),
    contact: compile(CONTACT),
    not_self_service: compile(NOT_SELF_SERVICE),
    person: compile(PERSON),
    person_word: compile(PERSON_WORD),
});

/// Expands the blocks and compiles case-insensitively; panics on a bad
/// pattern (they are constants, and a test compiles them all).
fn compile(template: &str) -> Regex {
    // Folded text is nearly all ASCII: ASCII word boundaries keep the fast
    // DFA on (a Unicode `\b` falls back to a slower engine at the first
    // "¿" or "—").
    let source = expand(template).replace(r"\b", r"(?-u:\b)");
    Regex::new(&format!("(?i){source}"))
        .unwrap_or_else(|e| panic!("handoff pattern {template:?}: {e}"))
}

/// Replaces every `{name}` of [`BLOCKS`] until none is left.
fn expand(template: &str) -> String {
    let mut source = template.to_owned();
    loop {
        let before = source.clone();
        for (name, block) in BLOCKS {
            source = source.replace(&format!("{{{name}}}"), &format!("(?:{block})"));
        }
        if source == before {
            return source;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_compiles_and_every_block_is_expanded() {
        let patterns = &*PATTERNS;
        assert_eq!(patterns.policy.len(), POLICY.len());
        for template in POLICY.iter().chain(REFERRAL).chain([&PERSON]) {
            let source = expand(template);
            for (name, _) in BLOCKS {
                assert!(
                    !source.contains(&format!("{{{name}}}")),
                    "{name} left in {template}"
                );
            }
        }
    }
}
