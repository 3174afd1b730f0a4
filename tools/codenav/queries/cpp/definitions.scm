; C++ definitions. A function's name may be plain, a member (field_identifier), qualified
; (Class::method — the last component is the name), a destructor or an operator.
(function_definition
  declarator: (function_declarator
    declarator: [(identifier) (field_identifier) (qualified_identifier) (destructor_name)
                 (operator_name)] @name)) @definition.function
(function_definition
  declarator: (pointer_declarator
    declarator: (function_declarator
      declarator: [(identifier) (field_identifier) (qualified_identifier)] @name))) @definition.function
(function_definition
  declarator: (reference_declarator
    (function_declarator
      declarator: [(identifier) (field_identifier) (qualified_identifier) (operator_name)] @name))) @definition.function

; Member function declarations inside a class body.
(field_declaration
  declarator: (function_declarator
    declarator: [(field_identifier) (destructor_name) (operator_name)] @name)) @declaration.method
(field_declaration
  declarator: (pointer_declarator
    declarator: (function_declarator declarator: (field_identifier) @name))) @declaration.method
(field_declaration
  declarator: (reference_declarator
    (function_declarator declarator: [(field_identifier) (operator_name)] @name))) @declaration.method
(declaration
  declarator: (function_declarator
    declarator: [(identifier) (qualified_identifier) (destructor_name)] @name)) @declaration.function
(declaration
  declarator: (pointer_declarator
    declarator: (function_declarator declarator: (identifier) @name))) @declaration.function
(declaration
  declarator: (reference_declarator
    (function_declarator declarator: (identifier) @name))) @declaration.function

(class_specifier name: [(type_identifier) (qualified_identifier)] @name
  body: (field_declaration_list)) @definition.class
(struct_specifier name: [(type_identifier) (qualified_identifier)] @name
  body: (field_declaration_list)) @definition.struct
(union_specifier name: (type_identifier) @name body: (field_declaration_list)) @definition.union
(enum_specifier name: (type_identifier) @name body: (enumerator_list)) @definition.enum
(enumerator name: (identifier) @name) @definition.constant
(namespace_definition name: [(namespace_identifier) (nested_namespace_specifier)] @name) @definition.namespace
(alias_declaration name: (type_identifier) @name) @definition.type
(type_definition declarator: (type_identifier) @name) @definition.type
(concept_definition name: (identifier) @name) @definition.type
(preproc_def name: (identifier) @name) @definition.macro
(preproc_function_def name: (identifier) @name) @definition.macro

; Data members.
(field_declaration_list
  (field_declaration declarator: (field_identifier) @name) @definition.field)

; Namespace- and file-scope variables.
(translation_unit
  (declaration declarator: (init_declarator declarator: (identifier) @name)) @definition.variable)
(translation_unit (declaration declarator: (identifier) @name) @definition.variable)
(namespace_definition
  body: (declaration_list
    (declaration declarator: (init_declarator declarator: (identifier) @name)) @definition.variable))
